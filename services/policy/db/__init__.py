"""The policy service's tables and migrations (schema `policy`)."""
