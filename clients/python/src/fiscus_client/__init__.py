"""Python client for Fiscus: `Fiscus` (synchronous) and `AsyncFiscus` (asynchronous).

    from fiscus_client import Fiscus

    with Fiscus("http://127.0.0.1:8000", api_key="fk_...") as fiscus:
        job = fiscus.simulate(dataset_id, policy_id, 2026)
        job.wait()
        print(job.report().budget_frame())

Both clients are one implementation: `_sync` is generated from `_async`.
"""

from fiscus_client._async.client import AsyncFiscus
from fiscus_client._async.jobs import AsyncSimulationJob
from fiscus_client._sync.client import Fiscus
from fiscus_client._sync.jobs import SimulationJob
from fiscus_client.models import (
    Aggregate,
    ApiKey,
    AuditEntry,
    Dataset,
    Delivery,
    DeliveryAttempt,
    ImpactReport,
    Page,
    Parameter,
    Policy,
    Report,
    Simulation,
    SimulationEvent,
    Variable,
    WebhookEndpoint,
    WebhookSecret,
)
from fiscus_client.transport import VERSION, FiscusError

__version__ = VERSION
__all__ = [
    "Aggregate",
    "ApiKey",
    "AsyncFiscus",
    "AsyncSimulationJob",
    "AuditEntry",
    "Dataset",
    "Delivery",
    "DeliveryAttempt",
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
    "WebhookEndpoint",
    "WebhookSecret",
]
