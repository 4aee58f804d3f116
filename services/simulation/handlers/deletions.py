"""Consumers of `dataset.deleted` and `policy.deleted` (API process): a deleted dataset
or policy takes no new simulation; simulations already accepted on it run on."""

from __future__ import annotations

import logging

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetDeleted
from contracts.events.policy.v1 import PolicyDeleted
from services.simulation.db import access
from services.simulation.db.tables import datasets, policies
from shared.db import Database

log = logging.getLogger(__name__)

DATASET_DELETIONS_QUEUE = "simulation.dataset-deleted"
POLICY_DELETIONS_QUEUE = "simulation.policy-deleted"


class NotProjectedYet(Exception):
    """A deletion overtook its registration: redelivered until the registration lands."""


class DeletionHandlers:
    """Mark a projection row deleted and record the event in the inbox, in one unit of work."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def on_dataset_deleted(self, event: CloudEvent) -> None:
        deleted = event.payload(DatasetDeleted)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(DATASET_DELETIONS_QUEUE, event):
                return
            if not await access.mark_deleted(
                uow, datasets, "dataset_id", deleted.dataset_id, deleted.deleted_at
            ):
                raise NotProjectedYet(f"dataset {deleted.dataset_id}")
            await uow.commit()
        log.info("dataset %s deleted", deleted.dataset_id, extra={"event_id": event.id})

    async def on_policy_deleted(self, event: CloudEvent) -> None:
        deleted = event.payload(PolicyDeleted)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(POLICY_DELETIONS_QUEUE, event):
                return
            if not await access.mark_deleted(
                uow, policies, "policy_id", deleted.policy_id, deleted.deleted_at
            ):
                raise NotProjectedYet(f"policy {deleted.policy_id}")
            await uow.commit()
        log.info("policy %s deleted", deleted.policy_id, extra={"event_id": event.id})
