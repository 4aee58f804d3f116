# Generated from fiscus_client/_async by clients/python/generate_sync.py: edit that.
"""A simulation on the server, followed synchronously: `AsyncSimulationJob`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from rich.console import Console

from fiscus_client.models import Report, Simulation, SimulationEvent
from fiscus_client.progress import SimulationProgressBar

if TYPE_CHECKING:
    import pandas as pd

    from fiscus_client._sync.simulations import Simulations

EventCallback = Callable[[SimulationEvent], None]


class SimulationJob:
    """A simulation on the server: follow it, wait for it, read its report and results."""

    def __init__(
        self, client: Simulations, simulation_id: str, state: Simulation | None = None
    ) -> None:
        """A handle on `simulation_id`, reached through `client`."""
        self.id = simulation_id
        self.state = state
        self._client = client

    def __repr__(self) -> str:
        status = self.state.status if self.state else "unknown"
        return f"{type(self).__name__}(id={self.id!r}, status={status!r})"

    def refresh(self) -> Simulation:
        """The simulation's current state."""
        self.state = self._client.get_simulation(self.id)
        return self.state

    def events(self, *, timeout: float = 3600.0) -> Iterator[SimulationEvent]:
        """Its live events (Server-Sent Events) until the final one."""
        return self._client.stream_events(self.id, timeout=timeout)

    def wait(
        self,
        *,
        progress: bool = True,
        timeout: float = 3600.0,
        on_event: EventCallback | None = None,
        console: Console | None = None,
    ) -> Simulation:
        """Follow the live stream until the simulation ends; its final state.

        Shows a progress bar on stderr unless `progress` is False; `on_event` is called
        with every event.
        """
        bar = SimulationProgressBar(self.id, console) if progress else None
        if bar is not None:
            bar.__enter__()
        try:
            for event in self.events(timeout=timeout):
                if bar is not None:
                    bar.update(event)
                if on_event is not None:
                    on_event(event)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
        return self.refresh()

    def report(self, *, timeout: float = 300.0) -> Report:
        """The impact report, waiting for it to be built."""
        return self._client.wait_for_report(self.id, timeout=timeout)

    def results(self, *, year: int | None = None) -> pd.DataFrame:
        """The household-level results as a DataFrame (a budget window's `year`)."""
        return self._client.get_results(self.id, year=year)

    def aggregate(self, variable: str, stat: str, **options: Any) -> Any:
        """A weighted statistic of a result column (see `AsyncFiscus.aggregate`)."""
        return self._client.aggregate(self.id, variable, stat, **options)

    def cancel(self) -> Simulation:
        """Cancel the simulation."""
        self.state = self._client.cancel_simulation(self.id)
        return self.state
