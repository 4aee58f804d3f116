"""How a simulation fails: its row marked failed and `simulation.failed` in the outbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from services.simulation.db.repository import SimulationRepository
from services.simulation.domain.lifecycle import Simulation
from services.simulation.domain.transitions import Transition
from shared.db import Database, UnitOfWork

log = logging.getLogger(__name__)


async def record_failure(
    uow: UnitOfWork,
    event: CloudEvent,
    consumer: str,
    source: str,
    before: Simulation,
    failed: Transition[Simulation],
) -> None:
    """Store a simulation's failure (`before` as loaded, its row locked by the caller,
    who commits) and put `simulation.failed` in the outbox.

    The delivery is recorded in `consumer`'s inbox, so a redelivered copy has no second
    effect.
    """
    if not await uow.first_delivery(consumer, event):
        return
    await SimulationRepository(uow).record(before, failed, source=source)
    log.info("simulation %s failed: %s", before.id, failed.state.error_reason)


async def fail_unless_finished(
    database: Database,
    event: CloudEvent,
    consumer: str,
    source: str,
    simulation_id: str,
    error: BaseException,
    *,
    context: str = "",
) -> None:
    """Fail the simulation for `error`, `context` (which partition) leading the reason,
    in a unit of work of its own; a finished simulation is left as it is."""
    async with database.unit_of_work() as uow:
        simulation = await SimulationRepository(uow).get(simulation_id, for_update=True)
        if simulation is None or simulation.is_finished:
            return
        failed = simulation.fail(error, datetime.now(UTC), context=context)
        await record_failure(uow, event, consumer, source, simulation, failed)
        await uow.commit()
