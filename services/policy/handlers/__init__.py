"""Event consumers of the policy service (it consumes no events yet)."""
