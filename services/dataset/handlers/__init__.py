"""Event consumers of the dataset service (it consumes no events yet)."""
