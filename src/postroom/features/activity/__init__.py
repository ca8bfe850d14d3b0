"""features activity package."""
