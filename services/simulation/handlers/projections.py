"""Consumers that keep this service's copies of datasets and policies (API process)."""

from __future__ import annotations

import logging

from contracts.envelope import CloudEvent
from contracts.events.dataset.v1 import DatasetRegistered
from contracts.events.policy.v1 import PolicyCreated, PolicyVisibilityChanged
from services.simulation.db import projections
from services.simulation.handlers.deletions import NotProjectedYet
from shared.db import Database

log = logging.getLogger(__name__)

DATASETS_QUEUE = "simulation.dataset-registered"
POLICIES_QUEUE = "simulation.policy-created"
POLICY_VISIBILITY_QUEUE = "simulation.policy-visibility-changed"


class ProjectionHandlers:
    """Upsert a projection row and record the event in the inbox, in one unit of work."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def on_dataset_registered(self, event: CloudEvent) -> None:
        dataset = event.payload(DatasetRegistered)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(DATASETS_QUEUE, event):
                return
            await projections.record_dataset(uow, dataset, event.time)
            await uow.commit()
        log.info("dataset %s projected", dataset.dataset_id, extra={"event_id": event.id})

    async def on_policy_created(self, event: CloudEvent) -> None:
        policy = event.payload(PolicyCreated)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(POLICIES_QUEUE, event):
                return
            await projections.record_policy(uow, policy, event.time)
            await uow.commit()
        log.info("policy %s projected", policy.policy_id, extra={"event_id": event.id})

    async def on_policy_visibility_changed(self, event: CloudEvent) -> None:
        changed = event.payload(PolicyVisibilityChanged)
        async with self._database.unit_of_work() as uow:
            if not await uow.first_delivery(POLICY_VISIBILITY_QUEUE, event):
                return
            public = changed.visibility == "public"
            if not await projections.set_policy_visibility(
                uow, changed.policy_id, public, changed.changed_at
            ):
                raise NotProjectedYet(f"policy {changed.policy_id}")
            await uow.commit()
        log.info(
            "policy %s is %s", changed.policy_id, changed.visibility, extra={"event_id": event.id}
        )
