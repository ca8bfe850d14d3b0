"""features email package."""
