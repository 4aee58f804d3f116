"""What a step of a simulation's life returns, what refuses one, and why one fails.

A step (domain/lifecycle.py) returns a `Transition`: the new state and the events to
publish, in order. A step its state does not allow raises an `IllegalTransition`, whose
kind says which rule refused it. `AttemptsExhausted` and `MissingInput` are not refusals
but failures: the simulation fails with them, their names its `error_type`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from contracts.envelope import EventPayload

StateT = TypeVar("StateT")


@dataclass(frozen=True)
class Transition(Generic[StateT]):
    """A step's outcome: the new state, and the events to publish in this order."""

    state: StateT
    events: tuple[EventPayload, ...] = ()


class IllegalTransition(Exception):
    """A step the simulation's or the partition's state does not allow."""


class SimulationFinished(IllegalTransition):
    """The simulation is completed, failed or cancelled: it never changes again."""

    def __init__(self, simulation_id: str, status: str, step: str) -> None:
        super().__init__(f"simulation {simulation_id} is {status}: it cannot {step}")
        self.status = status


class AlreadyPlanned(IllegalTransition):
    """The simulation's partitions are planned: it is not planned again."""


class PartitionDone(IllegalTransition):
    """The partition's result is stored: it is neither computed nor counted again."""


class SecondCopy(IllegalTransition):
    """A second copy of the request of a partition being computed now (by the worker
    holding the original): dropped, without counting an attempt."""


class AttemptsExhausted(RuntimeError):
    """A message was started as often as allowed without ever finishing."""


class MissingInput(LookupError):
    """A dataset or policy the simulation refers to is no longer known here."""
