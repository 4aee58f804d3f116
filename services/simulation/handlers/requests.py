"""The worker's consumer of `simulation.requested`: plan the simulation's partitions.

Per message: (1) under the simulation's row lock, count the attempt
(`Simulation.start_planning`, domain/lifecycle.py) and read the dataset's projection,
once; (2) with no transaction open, read the dataset's `state_fips` column and plan
partitions (pure: domain/partitions.py); (3) in one unit of work, record the delivery
in the inbox and store what `Simulation.plan` decided: the partitions, the simulation
running with its totals, and one `simulation.partition.requested` per partition in
the outbox. Any worker then takes any partition (handlers/partitions.py).

A cancelled or finished simulation is not planned; a planned one is not planned
again. A missing dataset or policy, an unreadable dataset or a region without
households fails the simulation at once: asking again would give the same answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationRequested
from services.simulation.adapters.result_files import read_households_by_state
from services.simulation.db import projections
from services.simulation.db.projections import DatasetView
from services.simulation.db.repository import SimulationRepository
from services.simulation.domain.partitions import (
    PartitionCosts,
    PlannedPartition,
    in_region,
    plan_partitions,
)
from services.simulation.domain.transitions import (
    AlreadyPlanned,
    MissingInput,
    SimulationFinished,
)
from services.simulation.handlers.failures import fail_unless_finished, record_failure
from shared.db import Database, UnitOfWork
from shared.outages import is_outage, ride_out

log = logging.getLogger(__name__)

REQUESTS_QUEUE = "simulation.requests"


@dataclass(frozen=True)
class Planning:
    """A simulation about to be planned: where its households are, which years."""

    simulation_id: str
    storage_uri: str
    region: str
    years: list[int]


class SimulationPlanner:
    """Turns each requested simulation into partitions that any worker can take."""

    def __init__(
        self,
        database: Database,
        source: str,
        *,
        attempts: int,
        costs: PartitionCosts,
        outage_patience_seconds: float = 300.0,
    ) -> None:
        self._database = database
        self._source = source
        self._attempts = attempts
        self._costs = costs
        self._patience = outage_patience_seconds

    async def on_simulation_requested(self, event: CloudEvent) -> None:
        request = event.payload(SimulationRequested)
        planning = await self._start(event, request)
        if planning is None:
            return
        try:
            counts = await asyncio.to_thread(read_households_by_state, planning.storage_uri)
            plan = plan_partitions(in_region(counts, planning.region), planning.years, self._costs)
        except Exception as exc:
            if is_outage(exc):
                raise  # the storage is unreachable: try again, the request is not at fault
            log.warning("simulation %s could not be planned", planning.simulation_id, exc_info=True)
            await fail_unless_finished(
                self._database, event, REQUESTS_QUEUE, self._source, planning.simulation_id, exc
            )
            return
        # Planned: an outage now waits here, rather than plan again as a new attempt.
        await ride_out(
            lambda: self._store(event, planning, plan),
            what=f"plan of simulation {planning.simulation_id}",
            patience_seconds=self._patience,
        )

    async def _start(self, event: CloudEvent, request: SimulationRequested) -> Planning | None:
        """Count the attempt, unless the simulation is finished or planned already; read
        the dataset's projection, the one read of it this step makes."""
        simulation_id = request.simulation_id
        async with self._database.unit_of_work() as uow:
            repository = SimulationRepository(uow)
            simulation = await repository.get(simulation_id, for_update=True)
            if simulation is None:
                log.warning("request for unknown simulation %s ignored", simulation_id)
                return None
            now = datetime.now(UTC)
            try:
                attempt = simulation.start_planning(self._attempts, now)
            except (SimulationFinished, AlreadyPlanned):
                log.info("simulation %s already %s", simulation_id, simulation.status)
                return None
            dataset = None
            if not attempt.state.is_finished:  # not failed for its attempts
                dataset = await projections.find_dataset(uow, request.dataset_id)
                missing = await self._missing_input(uow, request, dataset)
                if missing is not None:
                    attempt = attempt.state.fail(missing, now)
            if attempt.state.is_finished:
                await record_failure(uow, event, REQUESTS_QUEUE, self._source, simulation, attempt)
                await uow.commit()
                return None
            assert dataset is not None  # known, or the attempt failed
            await repository.record(simulation, attempt, source=self._source)
            await uow.commit()
        return Planning(
            simulation_id=simulation_id,
            storage_uri=dataset.storage_uri,
            region=simulation.region,
            years=list(simulation.years),
        )

    @staticmethod
    async def _missing_input(
        uow: UnitOfWork, request: SimulationRequested, dataset: DatasetView | None
    ) -> MissingInput | None:
        """Which of the request's dataset and policies this service does not know."""
        if dataset is None:
            return MissingInput(f"dataset {request.dataset_id} is not known")
        for policy_id in (request.policy_id, request.baseline_policy_id):
            if policy_id is not None and await projections.find_policy(uow, policy_id) is None:
                return MissingInput(f"policy {policy_id} is not known")
        return None

    async def _store(
        self, event: CloudEvent, planning: Planning, plan: list[PlannedPartition]
    ) -> None:
        simulation_id = planning.simulation_id
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(REQUESTS_QUEUE, event):
                return
            repository = SimulationRepository(uow)
            simulation = await repository.get(simulation_id, for_update=True)
            if simulation is None:
                return
            try:
                planned = simulation.plan(plan, datetime.now(UTC))
            except (SimulationFinished, AlreadyPlanned):
                return  # finished or planned meanwhile
            await repository.add_plan(simulation, planned, source=self._source)
            await uow.commit()
        log.info(
            "simulation %s planned",
            simulation_id,
            extra={
                "simulation_id": simulation_id,
                "partitions": len(plan),
                "households": sum(p.households for p in plan),
            },
        )
