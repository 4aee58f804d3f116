"""Python client for the Fiscus REST API: `Fiscus` (sync) and `AsyncFiscus` (async)."""

from sdk.aio import AsyncFiscus, AsyncSimulationJob
from sdk.fiscus import Fiscus, SimulationJob
from sdk.models import (
    ApiKey,
    Dataset,
    ImpactReport,
    Page,
    Parameter,
    Policy,
    Report,
    Simulation,
    SimulationEvent,
    Variable,
)
from sdk.transport import FiscusError

__all__ = [
    "ApiKey",
    "AsyncFiscus",
    "AsyncSimulationJob",
    "Dataset",
    "Fiscus",
    "FiscusError",
    "ImpactReport",
    "Page",
    "Parameter",
    "Policy",
    "Report",
    "Simulation",
    "SimulationEvent",
    "SimulationJob",
    "Variable",
]
