"""Steps of a planned simulation, for the lifecycle tests: partitions claimed and
finished."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.simulation.domain.lifecycle import Planned, Simulation
from services.simulation.domain.partitions import (
    Partition,
)
from services.simulation.domain.simulations import Status
from tests.factories import (
    partition_timings,
    result_files,
)

LIMIT = 3
FINISHED = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)


def started(planned: Planned, index: int, now: datetime) -> Partition:
    """One of the planned partitions, claimed (running, its first attempt)."""
    start = planned.state.start_partition(
        planned.partitions[index], limit=LIMIT, now=now, redelivered=False, started_here=False
    )
    return start.partition


def finished_all(planned: Planned, now: datetime) -> tuple[Simulation, list[Partition]]:
    """The planned simulation with every partition finished, one second apart."""
    simulation, done = planned.state, []
    for index in range(len(planned.partitions)):
        finish = simulation.finish_partition(
            started(planned, index, now),
            result_files(index),
            partition_timings(),
            now + timedelta(seconds=index + 1),
        )
        simulation = finish.state
        done.append(finish.partition)
    return simulation, done


# Planning
