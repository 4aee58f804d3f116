"""How a simulation fails: its row marked failed and `simulation.failed` in the outbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from contracts.envelope import CloudEvent
from contracts.events.simulation.v1 import SimulationFailed
from services.simulation.db import simulations as store
from services.simulation.domain.simulations import failure_of
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


class MissingInput(LookupError):
    """A dataset or policy the simulation refers to is no longer known here."""


class AttemptsExhausted(RuntimeError):
    """A message was started as often as allowed without ever finishing."""


async def record_failure(
    uow: UnitOfWork,
    event: CloudEvent,
    consumer: str,
    source: str,
    simulation_id: str,
    error: BaseException,
    *,
    attempts: int | None = None,
    context: str = "",
) -> None:
    """Fail the simulation for `error` (the caller holds its row lock and commits).

    `context` (which partition) leads the reason. The delivery is recorded in
    `consumer`'s inbox, so a redelivered copy has no second effect.
    """
    if not await uow.first_delivery(consumer, event):
        return
    error_type, reason = failure_of(error)
    if context:
        reason = f"{context}: {reason}"
    await store.mark_failed(
        uow,
        simulation_id,
        completed_at=datetime.now(UTC),
        error_type=error_type,
        reason=reason,
        attempts=attempts,
    )
    await uow.publish(
        CloudEvent.wrap(
            SimulationFailed(simulation_id=simulation_id, reason=reason, error_type=error_type),
            source=source,
            subject=simulation_id,
        )
    )
    log.info("simulation %s failed: %s", simulation_id, reason)
