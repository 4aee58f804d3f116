"""A live progress bar of a simulation, driven by its stream's events (rich)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typing_extensions import Self

from fiscus_client.models import SimulationEvent


class SimulationProgressBar:
    """Shows partitions done of a simulation; a context manager around `update` calls."""

    def __init__(self, simulation_id: str, console: Console | None = None) -> None:
        """A bar for `simulation_id`, drawn on `console` (stderr by default)."""
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(
            f"simulation {simulation_id[:8]}", total=None, status="connecting"
        )

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, event: SimulationEvent) -> None:
        """Move the bar to what `event` says."""
        status = event.status or event.event
        if event.partitions_total is not None:
            self._progress.update(
                self._task,
                total=event.partitions_total,
                completed=event.partitions_done or 0,
                status=status,
            )
        elif event.event == "completed":
            task = self._progress.tasks[0]
            total = task.total if task.total is not None else 1
            self._progress.update(self._task, total=total, completed=total, status=status)
        else:
            self._progress.update(self._task, status=status)
