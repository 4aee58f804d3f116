"""Dataset events, version 1."""

from __future__ import annotations

from datetime import datetime
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
    # Added in v1 (optional): the caller the dataset is private to (an upload's
    # uploader); None when every caller may use it (synthetic populations).
    owner: str | None = None


class DatasetDeleted(EventPayload):
    """A dataset was deleted: it is gone from the API and takes no new simulations."""

    event_type: ClassVar[str] = "dataset.deleted"

    dataset_id: str
    deleted_at: datetime
