"""Python client for the Fiscus REST API."""

from sdk.client import FiscusClient, FiscusError

__all__ = ["FiscusClient", "FiscusError"]
