"""A simulation and its partitions as objects: each step checks the state machine and
says what happened.

`Simulation` and `Partition` are immutable. A step is a method: it refuses a step the
current state does not allow (an `IllegalTransition`), and otherwise returns the new
state with the events to publish, in order. The handlers load the objects
(db/repository.py), take one step, store the new state and put its events in the
outbox, in one unit of work: they carry out what the step decided.

    Simulation   queued ──plan──▶ running ──complete──▶ completed
                   │                 │
                   ├──fail───────────┴──▶ failed
                   └──cancel─────────┴──▶ cancelled

    Partition    queued ──start──▶ running ──finish──▶ done
                                    └─start─┘ (again, after a redelivery)

`start_planning` counts a delivery of the request (too many fail the simulation);
`start_partition` and `finish_partition` move a running simulation's partitions and
its counters; the last partition finished lets it `complete`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from contracts.events.simulation.v1 import (
    ResultFile,
    SimulationCancelled,
    SimulationCompleted,
    SimulationFailed,
    SimulationPartitionRequested,
    SimulationProgress,
)
from services.simulation.domain.partitions import Partition, PartitionStatus, PlannedPartition
from services.simulation.domain.results import StoredResult
from services.simulation.domain.simulations import (
    FINISHED,
    NATIONAL,
    Progress,
    Status,
    attempts_exhausted,
    failure_of,
    is_second_copy,
    paths_of,
    progress_at,
)
from services.simulation.domain.transitions import (
    AlreadyPlanned,
    AttemptsExhausted,
    IllegalTransition,
    PartitionDone,
    SecondCopy,
    SimulationFinished,
    Transition,
)

# The partitions' timings a completed simulation sums.
SUMMED_TIMINGS = ("load_seconds", "calculation_seconds", "write_seconds")


@dataclass(frozen=True, kw_only=True)
class Planned(Transition["Simulation"]):
    """A planned simulation, running, with its partitions (to store) and their requests."""

    partitions: tuple[Partition, ...]


@dataclass(frozen=True, kw_only=True)
class PartitionStart(Transition["Simulation"]):
    """A claimed partition: running with one more attempt, or, the attempts exhausted,
    its attempt counted and the simulation failed (`exhausted`)."""

    partition: Partition
    exhausted: bool = False


@dataclass(frozen=True, kw_only=True)
class PartitionFinish(Transition["Simulation"]):
    """A partition done and counted, with `simulation.progress`; `last` when it was the
    simulation's last partition (the simulation may then `complete`)."""

    partition: Partition

    @property
    def last(self) -> bool:
        return self.state.all_partitions_done


@dataclass(frozen=True)
class Simulation:
    """A requested society-wide simulation, as its row stores it."""

    id: str
    status: Status
    dataset_id: str
    policy_id: str
    baseline_policy_id: str | None
    year: int
    years: tuple[int, ...]  # every year simulated, `year` first
    region: str = NATIONAL
    outputs: tuple[str, ...] = ()
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    partitions_total: int | None = None
    partitions_done: int = 0
    households_total: int | None = None
    households_done: int = 0
    error_type: str | None = None
    error_reason: str | None = None
    results: tuple[ResultFile, ...] | None = None
    timings: Mapping[str, Any] | None = None
    model_version: str | None = None
    dataset_sha256: str | None = None

    @property
    def is_finished(self) -> bool:
        """Completed, failed or cancelled: it never changes again."""
        return self.status in FINISHED

    @property
    def is_planned(self) -> bool:
        return self.partitions_total is not None

    @property
    def all_partitions_done(self) -> bool:
        return self.partitions_total is not None and self.partitions_done >= self.partitions_total

    @property
    def partitions_span_the_dataset(self) -> bool:
        """Whether each partition holds the whole dataset (the country, one per year)."""
        return self.region == NATIONAL and self.partitions_total == len(self.years)

    @property
    def seconds(self) -> float | None:
        """From its plan to its end (None before either)."""
        if self.started_at is None or self.completed_at is None:
            return None
        return round((self.completed_at - self.started_at).total_seconds(), 3)

    def progress(self, now: datetime) -> Progress | None:
        """How far it is (None before a worker planned it)."""
        if self.partitions_total is None or self.households_total is None:
            return None
        if self.started_at is None:
            return None
        return progress_at(
            self.status,
            started_at=self.started_at,
            ended_at=self.completed_at or self.cancelled_at,
            partitions=(self.partitions_done, self.partitions_total),
            households=(self.households_done, self.households_total),
            now=now,
        )

    def start_planning(self, limit: int, now: datetime) -> Transition[Simulation]:
        """Count a delivery of the request that reaches the planning.

        A request whose planning kills its worker is redelivered without reaching any
        `except`: beyond `limit` deliveries the simulation fails instead.
        """
        self._refuse_unless_plannable("be planned")
        attempted = replace(self, attempts=self.attempts + 1)
        if attempts_exhausted(attempted.attempts, limit):
            exhausted = AttemptsExhausted(
                f"planning started {self.attempts} times without finishing"
            )
            return attempted.fail(exhausted, now)
        return Transition(attempted)

    def plan(self, plan: Sequence[PlannedPartition], now: datetime) -> Planned:
        """Running with its partitions, and one `simulation.partition.requested` each."""
        self._refuse_unless_plannable("be planned")
        if not plan:
            raise IllegalTransition(f"simulation {self.id}: a plan holds at least one partition")
        running = replace(
            self,
            status=Status.RUNNING,
            started_at=now,
            partitions_total=len(plan),
            partitions_done=0,
            households_total=sum(p.households for p in plan),
            households_done=0,
        )
        partitions = tuple(
            Partition(self.id, p.index, p.year, tuple(p.states), p.households) for p in plan
        )
        requests = tuple(
            SimulationPartitionRequested(
                simulation_id=self.id,
                partition=p.index,
                partitions=len(plan),
                year=p.year,
                states=list(p.states),
                households=p.households,
            )
            for p in plan
        )
        return Planned(running, requests, partitions=partitions)

    def start_partition(
        self,
        partition: Partition,
        *,
        limit: int,
        now: datetime,
        redelivered: bool,
        started_here: bool,
    ) -> PartitionStart:
        """Claim a partition for a calculation, counting the attempt.

        Refused when the simulation is finished, the partition done, or the request a
        second copy (domain.simulations.is_second_copy). Beyond `limit` attempts the
        simulation fails, the partition named in the reason.
        """
        self._refuse_if_finished(f"start {partition.context}")
        self._refuse_unless_running(partition)
        if partition.is_done:
            raise PartitionDone(f"{partition.context} of simulation {self.id} is done")
        if is_second_copy(
            running=partition.status is PartitionStatus.RUNNING,
            redelivered=redelivered,
            started_here=started_here,
        ):
            raise SecondCopy(
                f"{partition.context} of simulation {self.id} is being computed "
                f"(attempt {partition.attempts})"
            )
        attempts = partition.attempts + 1
        if attempts_exhausted(attempts, limit):
            exhausted = AttemptsExhausted(
                f"started {partition.attempts} times without finishing; "
                "a worker computing it may have run out of memory"
            )
            failed = self.fail(exhausted, now, context=partition.context)
            counted = replace(partition, attempts=attempts)
            return PartitionStart(failed.state, failed.events, partition=counted, exhausted=True)
        started = replace(
            partition, status=PartitionStatus.RUNNING, attempts=attempts, started_at=now
        )
        return PartitionStart(self, partition=started)

    def finish_partition(
        self,
        partition: Partition,
        results: Sequence[StoredResult],
        timings: Mapping[str, Any],
        now: datetime,
    ) -> PartitionFinish:
        """A computed partition done with its files, counted, and `simulation.progress`."""
        self._refuse_if_finished(f"take the result of {partition.context}")
        self._refuse_unless_running(partition)
        if partition.is_done:
            raise PartitionDone(f"{partition.context} of simulation {self.id} is done")
        if partition.status is not PartitionStatus.RUNNING:
            raise IllegalTransition(
                f"{partition.context} of simulation {self.id} is {partition.status}: "
                "only a started partition finishes"
            )
        done = replace(
            partition,
            status=PartitionStatus.DONE,
            completed_at=now,
            results=tuple(results),
            timings=dict(timings),
        )
        counted = replace(
            self,
            partitions_done=self.partitions_done + 1,
            households_done=self.households_done + partition.households,
        )
        progress = counted.progress(now)
        assert progress is not None  # a planned, running simulation
        event = SimulationProgress(simulation_id=self.id, **progress.model_dump())
        return PartitionFinish(counted, (event,), partition=done)

    def complete(
        self,
        partitions: Sequence[Partition],
        *,
        model_version: str,
        dataset_sha256: str,
        now: datetime,
    ) -> Transition[Simulation]:
        """Completed with every partition's files, summed timings, and
        `simulation.completed`; refused before every partition is done."""
        self._refuse_if_finished("complete")
        if self.status is not Status.RUNNING or not self.all_partitions_done:
            raise IllegalTransition(
                f"simulation {self.id} has {self.partitions_done} of "
                f"{self.partitions_total} partitions done: it cannot complete"
            )
        unfinished = [
            p.context for p in partitions if not _finished(p) or p.simulation_id != self.id
        ]
        if unfinished:
            raise IllegalTransition(
                f"simulation {self.id} cannot complete with {', '.join(unfinished)} not done"
            )
        assert self.started_at is not None  # set with the plan
        files = tuple(result.as_event_file() for p in partitions for result in p.results or ())
        timings: dict[str, Any] = {
            name: round(sum(_timings(p)[name] for p in partitions), 3) for name in SUMMED_TIMINGS
        }
        timings["total_seconds"] = round((now - self.started_at).total_seconds(), 3)
        timings.update(paths_of([_timings(p) for p in partitions]))
        completed = replace(
            self,
            status=Status.COMPLETED,
            completed_at=now,
            results=files,
            timings=timings,
            model_version=model_version,
            dataset_sha256=dataset_sha256,
            error_type=None,
            error_reason=None,
        )
        event = SimulationCompleted(
            simulation_id=self.id,
            dataset_id=self.dataset_id,
            policy_id=self.policy_id,
            baseline_policy_id=self.baseline_policy_id,
            year=self.year,
            years=list(self.years),
            region=self.region,
            partitions=len(partitions),
            results=list(files),
            model_version=model_version,
            dataset_sha256=dataset_sha256,
            started_at=self.started_at,
            completed_at=now,
            seconds=timings["total_seconds"],
        )
        return Transition(completed, (event,))

    def fail(
        self, error: BaseException, now: datetime, *, context: str = ""
    ) -> Transition[Simulation]:
        """Failed for `error` (its type and message the reason, `context` first), and
        `simulation.failed`."""
        self._refuse_if_finished("fail")
        error_type, reason = failure_of(error)
        if context:
            reason = f"{context}: {reason}"
        failed = replace(
            self, status=Status.FAILED, completed_at=now, error_type=error_type, error_reason=reason
        )
        return Transition(
            failed, (SimulationFailed(simulation_id=self.id, reason=reason, error_type=error_type),)
        )

    def cancel(self, now: datetime) -> Transition[Simulation]:
        """Cancelled on request, and `simulation.cancelled`; workers then skip its
        partitions and discard a result arriving late."""
        self._refuse_if_finished("be cancelled")
        cancelled = replace(self, status=Status.CANCELLED, cancelled_at=now)
        return Transition(
            cancelled, (SimulationCancelled(simulation_id=self.id, cancelled_at=now),)
        )

    def _refuse_if_finished(self, step: str) -> None:
        if self.is_finished:
            raise SimulationFinished(self.id, self.status, step)

    def _refuse_unless_plannable(self, step: str) -> None:
        self._refuse_if_finished(step)
        if self.is_planned:
            raise AlreadyPlanned(f"simulation {self.id} is planned already")

    def _refuse_unless_running(self, partition: Partition) -> None:
        if partition.simulation_id != self.id:
            raise IllegalTransition(
                f"{partition.context} is of simulation {partition.simulation_id}"
            )
        if self.status is not Status.RUNNING or not self.is_planned:
            raise IllegalTransition(
                f"simulation {self.id} is {self.status}, not running: "
                f"{partition.context} cannot move"
            )


def _finished(partition: Partition) -> bool:
    return partition.is_done and partition.results is not None and partition.timings is not None


def _timings(partition: Partition) -> Mapping[str, Any]:
    assert partition.timings is not None  # a done partition's
    return partition.timings
