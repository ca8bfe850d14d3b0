"""Templates: /template/* storage, the engine, and rendering for the send path."""
