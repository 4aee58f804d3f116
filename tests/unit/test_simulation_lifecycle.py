"""The simulation's state machine (domain/lifecycle.py): every allowed step returns the
new state and the events to publish; every step the state does not allow is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from contracts.events.simulation.v1 import (
    SimulationFailed,
    SimulationPartitionRequested,
    SimulationProgress,
)
from services.simulation.domain.lifecycle import Planned
from services.simulation.domain.partitions import (
    Partition,
    PartitionStatus,
)
from services.simulation.domain.simulations import Status
from services.simulation.domain.transitions import (
    AlreadyPlanned,
    IllegalTransition,
    PartitionDone,
    SecondCopy,
    SimulationFinished,
)
from tests.factories import (
    partition_timings,
    planned_partitions,
    queued_simulation,
    result_files,
)
from tests.unit.lifecycle_steps import FINISHED, LIMIT, finished_all, started


def test_starting_the_planning_counts_an_attempt_and_says_nothing(now: datetime) -> None:
    step = queued_simulation(attempts=1).start_planning(LIMIT, now)

    assert step.state == queued_simulation(attempts=2)
    assert step.events == ()


def test_a_planning_started_too_often_fails_the_simulation(now: datetime) -> None:
    step = queued_simulation(attempts=LIMIT).start_planning(LIMIT, now)

    reason = f"AttemptsExhausted: planning started {LIMIT} times without finishing"
    assert (step.state.status, step.state.attempts) == (Status.FAILED, LIMIT + 1)
    assert (step.state.error_type, step.state.error_reason) == ("AttemptsExhausted", reason)
    assert step.state.completed_at == now
    assert step.events == (
        SimulationFailed(simulation_id="sim-1", reason=reason, error_type="AttemptsExhausted"),
    )


def test_a_plan_sets_the_simulation_running_and_requests_each_partition(
    planned: Planned, now: datetime
) -> None:
    simulation = planned.state
    assert (simulation.status, simulation.started_at) == (Status.RUNNING, now)
    assert (simulation.partitions_total, simulation.partitions_done) == (2, 0)
    assert (simulation.households_total, simulation.households_done) == (2, 0)
    assert planned.partitions == (
        Partition("sim-1", 0, 2026, ("CA",), 1),
        Partition("sim-1", 1, 2026, ("TX",), 1),
    )
    assert all(p.status is PartitionStatus.QUEUED and p.attempts == 0 for p in planned.partitions)
    assert planned.events == tuple(
        SimulationPartitionRequested(
            simulation_id="sim-1", partition=i, partitions=2, year=2026, states=[s], households=1
        )
        for i, s in enumerate(("CA", "TX"))
    )


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_simulation_is_neither_planned_nor_attempted(
    status: Status, now: datetime
) -> None:
    simulation = queued_simulation(status=status)

    with pytest.raises(SimulationFinished, match=f"is {status}"):
        simulation.start_planning(LIMIT, now)
    with pytest.raises(SimulationFinished):
        simulation.plan(planned_partitions(("CA",)), now)


def test_a_planned_simulation_is_not_planned_again(planned: Planned, now: datetime) -> None:
    with pytest.raises(AlreadyPlanned):
        planned.state.start_planning(LIMIT, now)
    with pytest.raises(AlreadyPlanned):
        planned.state.plan(planned_partitions(("CA",)), now)


def test_an_empty_plan_is_refused(now: datetime) -> None:
    with pytest.raises(IllegalTransition):
        queued_simulation().plan([], now)


# Partitions


def test_a_claimed_partition_runs_its_first_attempt_silently(
    planned: Planned, now: datetime
) -> None:
    start = planned.state.start_partition(
        planned.partitions[0], limit=LIMIT, now=now, redelivered=False, started_here=False
    )

    assert start.state == planned.state and start.events == () and not start.exhausted
    assert start.partition == replace(
        planned.partitions[0], status=PartitionStatus.RUNNING, attempts=1, started_at=now
    )


@pytest.mark.parametrize(
    ("redelivered", "started_here"), [(True, False), (False, True), (True, True)]
)
def test_a_running_partition_is_started_again_after_a_redelivery_or_an_outage(
    planned: Planned, now: datetime, redelivered: bool, started_here: bool
) -> None:
    later = now + timedelta(minutes=1)
    start = planned.state.start_partition(
        started(planned, 0, now),
        limit=LIMIT,
        now=later,
        redelivered=redelivered,
        started_here=started_here,
    )

    assert (start.partition.status, start.partition.attempts) == (PartitionStatus.RUNNING, 2)
    assert start.partition.started_at == later and start.events == ()


def test_a_second_copy_of_a_running_partitions_request_is_refused(
    planned: Planned, now: datetime
) -> None:
    with pytest.raises(SecondCopy):
        planned.state.start_partition(
            started(planned, 0, now), limit=LIMIT, now=now, redelivered=False, started_here=False
        )


def test_a_partition_started_too_often_fails_the_simulation_naming_it(
    planned: Planned, now: datetime
) -> None:
    worn = replace(started(planned, 0, now), attempts=LIMIT)

    start = planned.state.start_partition(
        worn, limit=LIMIT, now=now, redelivered=True, started_here=False
    )

    reason = (
        f"partition 0 (2026: CA): AttemptsExhausted: started {LIMIT} times without "
        "finishing; a worker computing it may have run out of memory"
    )
    assert start.exhausted
    assert start.partition == replace(worn, attempts=LIMIT + 1)  # counted, not started
    assert (start.state.status, start.state.error_reason) == (Status.FAILED, reason)
    assert start.events == (
        SimulationFailed(simulation_id="sim-1", reason=reason, error_type="AttemptsExhausted"),
    )


def test_a_finished_partition_counts_and_reports_progress(planned: Planned, now: datetime) -> None:
    later = now + timedelta(seconds=10)

    finish = planned.state.finish_partition(
        started(planned, 0, now), result_files(0), partition_timings(), later
    )

    assert finish.partition.status is PartitionStatus.DONE
    assert finish.partition.results == tuple(result_files(0))
    assert (finish.partition.completed_at, finish.partition.timings) == (
        later,
        partition_timings(),
    )
    assert (finish.state.partitions_done, finish.state.households_done) == (1, 1)
    assert finish.state.status is Status.RUNNING and not finish.last
    assert finish.events == (
        SimulationProgress(
            simulation_id="sim-1",
            partitions_done=1,
            partitions_total=2,
            households_done=1,
            households_total=2,
            elapsed_seconds=10.0,
            estimated_seconds_left=10.0,
        ),
    )


def test_the_last_partition_finished_is_the_last(planned: Planned, now: datetime) -> None:
    simulation, _ = finished_all(planned, now)

    assert simulation.all_partitions_done and simulation.status is Status.RUNNING


def test_a_done_partition_is_neither_started_nor_finished_again(
    planned: Planned, now: datetime
) -> None:
    finish = planned.state.finish_partition(
        started(planned, 0, now), result_files(0), partition_timings(), now
    )

    with pytest.raises(PartitionDone):
        finish.state.start_partition(
            finish.partition, limit=LIMIT, now=now, redelivered=True, started_here=False
        )
    with pytest.raises(PartitionDone):
        finish.state.finish_partition(finish.partition, result_files(0), partition_timings(), now)


def test_only_a_started_partition_finishes(planned: Planned, now: datetime) -> None:
    with pytest.raises(IllegalTransition, match="only a started partition"):
        planned.state.finish_partition(
            planned.partitions[0], result_files(0), partition_timings(), now
        )


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_simulations_partitions_are_skipped_and_their_results_discarded(
    planned: Planned, now: datetime, status: Status
) -> None:
    simulation = replace(planned.state, status=status)
    running = started(planned, 0, now)

    with pytest.raises(SimulationFinished) as refused:
        simulation.start_partition(
            running, limit=LIMIT, now=now, redelivered=True, started_here=False
        )
    assert refused.value.status == status
    with pytest.raises(SimulationFinished):
        simulation.finish_partition(running, result_files(0), partition_timings(), now)


def test_partitions_move_only_in_their_own_planned_simulation(
    planned: Planned, now: datetime
) -> None:
    stranger = replace(planned.partitions[0], simulation_id="sim-2")
    with pytest.raises(IllegalTransition, match="of simulation sim-2"):
        planned.state.start_partition(
            stranger, limit=LIMIT, now=now, redelivered=False, started_here=False
        )
    with pytest.raises(IllegalTransition, match="not running"):
        queued_simulation().start_partition(
            planned.partitions[0], limit=LIMIT, now=now, redelivered=False, started_here=False
        )
