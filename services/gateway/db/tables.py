"""The gateway's tables (schema `gateway`)."""

from __future__ import annotations

from shared.db import service_metadata

metadata = service_metadata("gateway")
