"""Every event consumer of the simulation service, registered here and nowhere else.

The API process keeps the dataset and policy projections; the workers plan requested
simulations and compute their partitions. Each consumer is a `shared.broker.Consumer`:
its queue (also its inbox name), the event type bound to it, and its handler.
"""

from __future__ import annotations

from contracts.events.dataset.v1 import DatasetDeleted, DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated, PolicyDeleted, PolicyVisibilityChanged
from contracts.events.simulation.v1 import SimulationPartitionRequested, SimulationRequested
from services.simulation.adapters.warm_engine import SimulationEngine, WarmEngine
from services.simulation.domain.partitions import PartitionCosts
from services.simulation.handlers.deletions import (
    DATASET_DELETIONS_QUEUE,
    POLICY_DELETIONS_QUEUE,
    DeletionHandlers,
)
from services.simulation.handlers.partitions import PARTITIONS_QUEUE, PartitionRunner
from services.simulation.handlers.projections import (
    DATASETS_QUEUE,
    POLICIES_QUEUE,
    POLICY_VISIBILITY_QUEUE,
    ProjectionHandlers,
)
from services.simulation.handlers.requests import REQUESTS_QUEUE, SimulationPlanner
from shared.broker import Consumer
from shared.db import Database
from shared.settings import Settings

# The workers' queues, which the API process declares too (services/simulation/main.py).
WORKER_QUEUES: tuple[tuple[str, str], ...] = (
    (REQUESTS_QUEUE, SimulationRequested.event_type),
    (PARTITIONS_QUEUE, SimulationPartitionRequested.event_type),
)


def api_consumers(database: Database, storage_root: str) -> list[Consumer]:
    """The API process's consumers: the dataset and policy projections."""
    projections = ProjectionHandlers(database)
    deletions = DeletionHandlers(database, storage_root)
    return [
        Consumer(DATASETS_QUEUE, DatasetRegistered.event_type, projections.on_dataset_registered),
        Consumer(POLICIES_QUEUE, PolicyCreated.event_type, projections.on_policy_created),
        Consumer(
            POLICY_VISIBILITY_QUEUE,
            PolicyVisibilityChanged.event_type,
            projections.on_policy_visibility_changed,
        ),
        Consumer(DATASET_DELETIONS_QUEUE, DatasetDeleted.event_type, deletions.on_dataset_deleted),
        Consumer(POLICY_DELETIONS_QUEUE, PolicyDeleted.event_type, deletions.on_policy_deleted),
    ]


def worker_consumers(
    database: Database,
    source: str,
    settings: Settings,
    engine: WarmEngine[SimulationEngine],
) -> list[Consumer]:
    """A worker's consumers: requested simulations are planned, their partitions computed."""
    planner = SimulationPlanner(
        database,
        source,
        attempts=settings.delivery_limit,
        costs=partition_costs(settings),
        outage_patience_seconds=settings.outage_patience_seconds,
    )
    runner = PartitionRunner(
        database,
        settings.resolved_storage_url,
        source,
        engine,
        attempts=settings.delivery_limit,
        outage_patience_seconds=settings.outage_patience_seconds,
    )
    handlers = {
        REQUESTS_QUEUE: planner.on_simulation_requested,
        PARTITIONS_QUEUE: runner.on_partition_requested,
    }
    return [Consumer(queue, event_type, handlers[queue]) for queue, event_type in WORKER_QUEUES]


def partition_costs(settings: Settings) -> PartitionCosts:
    return PartitionCosts(
        fixed_seconds=settings.partition_fixed_seconds,
        household_seconds=settings.partition_household_seconds,
        max_households=settings.partition_households,
        workers=settings.workers,
    )
