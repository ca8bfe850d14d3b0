"""delivery transports package."""
