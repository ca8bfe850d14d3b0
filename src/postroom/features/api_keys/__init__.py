"""features api_keys package."""
