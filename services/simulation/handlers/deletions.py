"""Consumers of `dataset.deleted` and `policy.deleted` (API process): a deleted dataset
or policy takes no new simulation; simulations already accepted on it run on.

When no dataset left has a deleted dataset's content, the baselines kept of it
(`adapters.baselines`: values derived from its people) are removed from storage in the
same delivery, before the inbox records it, so a storage outage retries the removal. A
simulation accepted before the deletion may store them again while it runs: its
completion removes them again (handlers/partition_results.py)."""

from __future__ import annotations

import asyncio
import logging

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetDeleted
from contracts.events.policy.v1 import PolicyDeleted
from services.simulation.adapters.baselines import remove_dataset_baselines
from services.simulation.db import projections
from shared.db import Database

log = logging.getLogger(__name__)

DATASET_DELETIONS_QUEUE = "simulation.dataset-deleted"
POLICY_DELETIONS_QUEUE = "simulation.policy-deleted"


class NotProjectedYet(Exception):
    """A deletion overtook its registration: redelivered until the registration lands."""


class DeletionHandlers:
    """Mark a projection row deleted and record the event in the inbox, in one unit of work."""

    def __init__(self, database: Database, storage_root: str) -> None:
        self._database = database
        self._storage_root = storage_root

    async def on_dataset_deleted(self, event: CloudEvent) -> None:
        deleted = event.payload(DatasetDeleted)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(DATASET_DELETIONS_QUEUE, event):
                return
            sha256 = await projections.mark_dataset_deleted(
                uow, deleted.dataset_id, deleted.deleted_at
            )
            if sha256 is None:
                raise NotProjectedYet(f"dataset {deleted.dataset_id}")
            if not await projections.dataset_content_in_use(uow, sha256):
                await asyncio.to_thread(remove_dataset_baselines, self._storage_root, sha256)
            await uow.commit()
        log.info("dataset %s deleted", deleted.dataset_id, extra={"event_id": event.id})

    async def on_policy_deleted(self, event: CloudEvent) -> None:
        deleted = event.payload(PolicyDeleted)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(POLICY_DELETIONS_QUEUE, event):
                return
            if (
                await projections.mark_policy_deleted(uow, deleted.policy_id, deleted.deleted_at)
                is None
            ):
                raise NotProjectedYet(f"policy {deleted.policy_id}")
            await uow.commit()
        log.info("policy %s deleted", deleted.policy_id, extra={"event_id": event.id})
