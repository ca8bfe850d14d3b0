"""features messages package."""
