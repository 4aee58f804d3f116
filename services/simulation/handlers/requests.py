"""The worker's consumer of `simulation.requested`: plan the simulation's partitions.

Per message: (1) under the simulation's row lock, count the attempt and check it may
start; (2) read the dataset's `state_fips` column and plan partitions (pure:
domain/partitions.py); (3) in one unit of work, record the delivery in the inbox,
store the partitions, mark the simulation running with its totals and put one
`simulation.partition.requested` per partition in the outbox. Any worker then takes
any partition (handlers/partitions.py).

A cancelled or finished simulation is not planned; a planned one is not planned
again. A missing dataset or policy, an unreadable dataset or a region without
households fails the simulation at once: asking again would give the same answer.
"""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationPartitionRequested, SimulationRequested
from services.simulation.db import partitions as partition_store
from services.simulation.db import projections
from services.simulation.db import simulations as store
from services.simulation.domain.partitions import (
    PartitionCosts,
    PlannedPartition,
    households_by_state,
    in_region,
    plan_partitions,
)
from services.simulation.domain.simulations import attempts_exhausted, may_start
from services.simulation.handlers.failures import (
    AttemptsExhausted,
    MissingInput,
    record_failure,
)
from shared import storage
from shared.db import Database
from shared.outages import is_outage, ride_out
from shared.population import file_name
from shared.states import POSTAL_CODE_BY_FIPS

log = logging.getLogger(__name__)

REQUESTS_QUEUE = "simulation.requests"


@dataclass(frozen=True)
class Planning:
    """A simulation about to be planned: where its households are, which years."""

    simulation_id: str
    storage_uri: str
    region: str
    years: list[int]


def read_households_by_state(storage_uri: str) -> dict[str, int]:
    """Households per state of a stored dataset, reading only its `state_fips` column."""
    data = storage.read_bytes(storage.join(storage_uri, file_name("household")))
    frame = pd.read_parquet(io.BytesIO(data), columns=["state_fips"], engine="pyarrow")
    return households_by_state(frame["state_fips"].to_numpy(), POSTAL_CODE_BY_FIPS)


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
            await self._fail(event, planning.simulation_id, exc)
            return
        # Planned: an outage now waits here, rather than plan again as a new attempt.
        await ride_out(
            lambda: self._store(event, planning, plan),
            what=f"plan of simulation {planning.simulation_id}",
            patience_seconds=self._patience,
        )

    async def _start(self, event: CloudEvent, request: SimulationRequested) -> Planning | None:
        """Count the attempt, unless the simulation is finished or planned already."""
        simulation_id = request.simulation_id
        async with self._database.unit_of_work() as uow:
            row = await store.find_simulation(uow, simulation_id, for_update=True)
            if row is None:
                log.warning("request for unknown simulation %s ignored", simulation_id)
                return None
            if not may_start(row["status"]) or row["partitions_total"] is not None:
                log.info("simulation %s already %s", simulation_id, row["status"])
                return None
            attempts = row["attempts"] + 1
            try:
                if attempts_exhausted(attempts, self._attempts):
                    raise AttemptsExhausted(
                        f"planning started {attempts - 1} times without finishing"
                    )
                dataset = await projections.find_dataset(uow, request.dataset_id)
                if dataset is None:
                    raise MissingInput(f"dataset {request.dataset_id} is not known")
                for policy_id in (request.policy_id, request.baseline_policy_id):
                    if (
                        policy_id is not None
                        and await projections.find_policy(uow, policy_id) is None
                    ):
                        raise MissingInput(f"policy {policy_id} is not known")
            except (AttemptsExhausted, MissingInput) as exc:
                await record_failure(
                    uow, event, REQUESTS_QUEUE, self._source, simulation_id, exc, attempts=attempts
                )
                await uow.commit()
                return None
            await store.set_attempts(uow, simulation_id, attempts)
            await uow.commit()
        return Planning(
            simulation_id=simulation_id,
            storage_uri=dataset.storage_uri,
            region=row["region"],
            years=list(row["years"] or [row["year"]]),
        )

    async def _store(
        self, event: CloudEvent, planning: Planning, plan: list[PlannedPartition]
    ) -> None:
        simulation_id = planning.simulation_id
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(REQUESTS_QUEUE, event):
                return
            row = await store.find_simulation(uow, simulation_id, for_update=True)
            if row is None or not may_start(row["status"]) or row["partitions_total"] is not None:
                return
            await partition_store.insert_plan(
                uow, simulation_id, plan, started_at=datetime.now(UTC)
            )
            for partition in plan:
                await uow.publish(
                    CloudEvent.wrap(
                        SimulationPartitionRequested(
                            simulation_id=simulation_id,
                            partition=partition.index,
                            partitions=len(plan),
                            year=partition.year,
                            states=list(partition.states),
                            households=partition.households,
                        ),
                        source=self._source,
                        subject=simulation_id,
                    )
                )
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

    async def _fail(self, event: CloudEvent, simulation_id: str, error: BaseException) -> None:
        async with self._database.unit_of_work() as uow:
            row = await store.find_simulation(uow, simulation_id, for_update=True)
            if row is None or not may_start(row["status"]):
                return
            await record_failure(uow, event, REQUESTS_QUEUE, self._source, simulation_id, error)
            await uow.commit()
