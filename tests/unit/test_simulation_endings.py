"""The end of a simulation's life as the domain decides it: completing once every
partition is done, failing, being cancelled, a budget window in order, and which
deciles are ranked again."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.events.simulation.v1 import (
    SimulationCancelled,
    SimulationCompleted,
    SimulationFailed,
)
from services.simulation.domain.lifecycle import Planned
from services.simulation.domain.partitions import (
    RankedFiles,
    years_to_rank,
)
from services.simulation.domain.simulations import Status
from services.simulation.domain.transitions import (
    AttemptsExhausted,
    IllegalTransition,
    MissingInput,
    SimulationFinished,
)
from tests.factories import (
    partition_timings,
    planned_partitions,
    queued_simulation,
    result_files,
)
from tests.unit.lifecycle_steps import FINISHED, LIMIT, finished_all, started

# Completion


def test_a_simulation_with_every_partition_done_completes(planned: Planned, now: datetime) -> None:
    simulation, done = finished_all(planned, now)
    end = now + timedelta(seconds=30)

    step = simulation.complete(done, model_version="m-1", dataset_sha256="d" * 64, now=end)

    files = [f.as_event_file() for i in (0, 1) for f in result_files(i)]
    completed = step.state
    assert (completed.status, completed.completed_at, completed.seconds) == (
        Status.COMPLETED,
        end,
        30.0,
    )
    assert completed.results == tuple(files)
    assert (completed.model_version, completed.dataset_sha256) == ("m-1", "d" * 64)
    assert completed.timings == {
        "load_seconds": 2.0,
        "calculation_seconds": 2.0,
        "write_seconds": 2.0,
        "total_seconds": 30.0,
        "reform_paths": {"full": 2},
        "full_path_reasons": ["full computation requested"],
        "baselines_reused": 0,
    }
    assert step.events == (
        SimulationCompleted(
            simulation_id="sim-1",
            dataset_id="ds-1",
            policy_id="pol-1",
            baseline_policy_id=None,
            year=2026,
            years=[2026],
            region="us",
            partitions=2,
            results=files,
            model_version="m-1",
            dataset_sha256="d" * 64,
            started_at=now,
            completed_at=end,
            seconds=30.0,
        ),
    )


def test_a_simulation_completes_only_with_every_partition_done(
    planned: Planned, now: datetime
) -> None:
    finish = planned.state.finish_partition(
        started(planned, 0, now), result_files(0), partition_timings(), now
    )
    with pytest.raises(IllegalTransition, match="1 of 2 partitions done"):
        finish.state.complete([finish.partition], model_version="m", dataset_sha256="d", now=now)
    simulation, done = finished_all(planned, now)
    with pytest.raises(IllegalTransition, match="partition 1"):
        simulation.complete(
            [done[0], planned.partitions[1]], model_version="m", dataset_sha256="d", now=now
        )


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_simulation_does_not_complete(
    planned: Planned, now: datetime, status: Status
) -> None:
    simulation, done = finished_all(planned, now)

    with pytest.raises(SimulationFinished):
        replace(simulation, status=status).complete(
            done, model_version="m", dataset_sha256="d", now=now
        )


# Failure and cancellation


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING])
def test_an_unfinished_simulation_fails_with_its_reason(status: Status, now: datetime) -> None:
    simulation = queued_simulation(status=status)

    step = simulation.fail(MissingInput("dataset ds-1 is not known"), now, context="partition 3")

    reason = "partition 3: MissingInput: dataset ds-1 is not known"
    assert step.state == replace(
        simulation,
        status=Status.FAILED,
        completed_at=now,
        error_type="MissingInput",
        error_reason=reason,
    )
    assert step.events == (
        SimulationFailed(simulation_id="sim-1", reason=reason, error_type="MissingInput"),
    )


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING])
def test_an_unfinished_simulation_is_cancelled(status: Status, now: datetime) -> None:
    simulation = queued_simulation(status=status)

    step = simulation.cancel(now)

    assert step.state == replace(simulation, status=Status.CANCELLED, cancelled_at=now)
    assert step.events == (SimulationCancelled(simulation_id="sim-1", cancelled_at=now),)


@pytest.mark.parametrize("status", FINISHED)
def test_a_finished_simulation_neither_fails_nor_is_cancelled(
    status: Status, now: datetime
) -> None:
    simulation = queued_simulation(status=status)

    with pytest.raises(SimulationFinished, match=f"sim-1 is {status}: it cannot fail"):
        simulation.fail(AttemptsExhausted("again"), now)
    with pytest.raises(SimulationFinished, match="cannot be cancelled"):
        simulation.cancel(now)


# A whole life, and the deciles' ranking


def test_a_budget_window_lives_from_request_to_completion_in_order(now: datetime) -> None:
    simulation = queued_simulation(years=(2026, 2027)).start_planning(LIMIT, now).state
    plan = planned_partitions(("CA",), ("TX",)) + planned_partitions(("CA", "TX"), year=2027)
    plan[2] = replace(plan[2], index=2)
    planned = simulation.plan(plan, now)
    events: list[Any] = list(planned.events)
    simulation, done = planned.state, []
    for index in range(3):
        finish = simulation.finish_partition(
            started(planned, index, now), result_files(index), partition_timings(), now
        )
        simulation = finish.state
        events.extend(finish.events)
        done.append(finish.partition)
    completion = simulation.complete(done, model_version="m", dataset_sha256="d", now=now)
    events.extend(completion.events)

    assert [type(e).__name__ for e in events] == [
        "SimulationPartitionRequested",
        "SimulationPartitionRequested",
        "SimulationPartitionRequested",
        "SimulationProgress",
        "SimulationProgress",
        "SimulationProgress",
        "SimulationCompleted",
    ]
    assert [e.partitions_done for e in events[3:6]] == [1, 2, 3]
    assert events[-1].years == [2026, 2027] and events[-1].partitions == 3
    assert completion.state.attempts == 1


def test_deciles_are_ranked_again_only_in_years_split_over_partitions(
    planned: Planned, now: datetime
) -> None:
    _, done = finished_all(planned, now)
    alone = replace(done[0], index=2, year=2027)

    assert years_to_rank([done[1], alone, done[0]]) == {2026: [done[0], done[1]]}
    assert years_to_rank([alone]) == {}


def test_ranked_files_apply_only_to_the_files_they_were_ranked_from(
    planned: Planned, now: datetime
) -> None:
    _, done = finished_all(planned, now)
    rewritten = {p.index: tuple(replace(f, sha256="r" * 64) for f in p.results or ()) for p in done}
    ranking = RankedFiles(basis={p.index: p.results for p in done}, ranked=rewritten)

    applied = ranking.applied_to(done)

    assert applied == [replace(p, results=rewritten[p.index]) for p in done]
    other = replace(done[1], results=tuple(result_files(7)))
    assert ranking.applied_to([done[0], other]) is None
    with pytest.raises(IllegalTransition, match="not final"):
        planned.partitions[0].ranked(result_files(0))
