"""Dataset events, version 1."""

from __future__ import annotations

from typing import ClassVar

from contracts.envelope import EventPayload


class DatasetRegistered(EventPayload):
    """A dataset was stored and validated; consumers may run simulations on it."""

    event_type: ClassVar[str] = "dataset.registered"

    dataset_id: str
    name: str
    storage_uri: str
    sha256: str
    year: int
    households: int
    people: int
    states: list[str]
