"""Baseline snapshots kept in object storage, the most recent also in memory.

`<root>/baselines/<dataset SHA-256>/<digest>.npz` is content-addressed
(`domain.baselines.baseline_key`), so every worker that can read the storage reuses
what any worker stored, and a worker restarted keeps none of its memory but loses
nothing stored. Memory holds the snapshots used last, up to `memory_bytes` of arrays.

A dataset's snapshots are values derived from its people: when the last dataset with
its content is deleted, `remove_dataset_baselines` removes them all (its folder).
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from services.simulation.domain.baselines import BaselineSnapshot, from_bytes, to_bytes
from shared import storage

log = logging.getLogger(__name__)

MEMORY = "memory"
STORAGE = "storage"


def baselines_root(storage_root: str) -> str:
    return storage.join(storage_root, "baselines")


def remove_dataset_baselines(storage_root: str, dataset_sha256: str) -> bool:
    """Remove every kept baseline of the dataset content `dataset_sha256` from storage."""
    if not dataset_sha256 or "/" in dataset_sha256 or dataset_sha256.startswith("."):
        raise ValueError(f"not a dataset digest: {dataset_sha256!r}")
    removed = storage.remove_tree(storage.join(baselines_root(storage_root), dataset_sha256))
    if removed:
        log.info("kept baselines of dataset content %s removed", dataset_sha256)
    return removed


class StoredBaselines:
    def __init__(self, root: str, memory_bytes: int) -> None:
        self._root = baselines_root(root)
        self._memory_bytes = memory_bytes
        self._recent: OrderedDict[str, BaselineSnapshot] = OrderedDict()

    def uri(self, key: str) -> str:
        return storage.join(self._root, f"{key}.npz")

    @property
    def kept_in_memory(self) -> int:
        return len(self._recent)

    def get(self, key: str) -> tuple[BaselineSnapshot, str] | None:
        snapshot = self._recent.get(key)
        if snapshot is not None:
            self._recent.move_to_end(key)
            return snapshot, MEMORY
        try:
            snapshot = from_bytes(storage.read_bytes(self.uri(key)))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as error:
            # A damaged or older snapshot is recalculated and stored again.
            log.warning("baseline snapshot %s unreadable, recalculating: %s", key, error)
            return None
        self._remember(key, snapshot)
        return snapshot, STORAGE

    def put(self, key: str, snapshot: BaselineSnapshot) -> None:
        self._remember(key, snapshot)
        storage.write_bytes(self.uri(key), to_bytes(snapshot))

    def _remember(self, key: str, snapshot: BaselineSnapshot) -> None:
        self._recent[key] = snapshot
        self._recent.move_to_end(key)
        total = sum(kept.nbytes for kept in self._recent.values())
        while total > self._memory_bytes and len(self._recent) > 1:
            _, evicted = self._recent.popitem(last=False)
            total -= evicted.nbytes
        if snapshot.nbytes > self._memory_bytes:
            self._recent.pop(key, None)
