"""The policy service's internal HTTP API."""
