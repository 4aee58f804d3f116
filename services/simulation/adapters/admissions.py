"""Simulation requests admitted together: one transaction for all that arrive at once.

A burst of requests (a hundred clients at once, a batch, a sweep) would otherwise cost
a transaction and a dozen statements each. Requests that arrive while a transaction is
running wait for the next one, which admits all of them with one read of the
projections, one lock statement, one read of equal simulations, one insert and one
outbox insert; a request arriving alone is admitted at once, as before.

A group of requests (one call: one request, or a batch's items) is admitted or
refused as a whole: when one of its requests names an input the caller may not use,
none of the group is admitted, and the others of the transaction are not affected.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_fixed

from contracts.envelope import CloudEvent
from services.simulation.db import access
from services.simulation.db import admissions as store
from services.simulation.domain.admissions import Admission, Inputs, policy_ids
from services.simulation.domain.simulations import SimulationRequest, Status, requested_event
from shared.db import Database, UnitOfWork
from shared.principals import Caller
from shared.tracing import propagation_headers

# Requests admitted in one transaction at most; more wait for the next.
MAX_REQUESTS = 500
PROJECTION_POLL_SECONDS = 0.1


@dataclass
class _Group:
    requests: list[SimulationRequest]
    caller: Caller
    # The caller's trace context and request id, carried by the events it causes.
    headers: dict[str, str]
    answer: asyncio.Future[list[Admission]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Admissions:
    """Admits simulation requests, many per transaction when they arrive together."""

    def __init__(self, database: Database, source: str) -> None:
        self._database = database
        self._source = source
        self._waiting: list[_Group] = []
        self._running: asyncio.Task[None] | None = None

    async def admit(self, requests: list[SimulationRequest], caller: Caller) -> list[Admission]:
        """Each request's admission, in order: all admitted, or all refused with the errors
        of those naming unusable inputs (the rest refused without errors)."""
        group = _Group(list(requests), caller, propagation_headers())
        self._waiting.append(group)
        if self._running is None or self._running.done():
            self._running = asyncio.create_task(self._admit_waiting(), name="admissions")
        return await asyncio.shield(group.answer)

    async def admit_when_projected(
        self, requests: list[SimulationRequest], caller: Caller, wait_seconds: float
    ) -> list[Admission]:
        """As `admit`, but a group refused for unknown inputs is tried again until they are
        projected or `wait_seconds` pass: a client may create a dataset or policy and a
        simulation on it a moment later, and the events carrying them normally reach this
        service's projections within a second. Known inputs cost no wait."""
        retrying = AsyncRetrying(
            retry=retry_if_result(lambda answers: any(a.errors for a in answers)),
            wait=wait_fixed(PROJECTION_POLL_SECONDS),
            stop=stop_after_delay(wait_seconds),
            # Still refused once the wait is over: the refusals are the answers.
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else [],
        )
        answers: list[Admission] = await retrying(self.admit, requests, caller)
        return answers

    async def _admit_waiting(self) -> None:
        while self._waiting:
            taken: list[_Group] = []
            size = 0
            while self._waiting and (
                not taken or size + len(self._waiting[0].requests) <= MAX_REQUESTS
            ):
                group = self._waiting.pop(0)
                taken.append(group)
                size += len(group.requests)
            try:
                answers = await self._admit_together(taken)
            except Exception as exc:
                for group in taken:
                    group.answer.set_exception(exc)
                continue
            for group, answer in zip(taken, answers, strict=True):
                group.answer.set_result(answer)

    async def _admit_together(self, groups: list[_Group]) -> list[list[Admission]]:
        requests = [r for group in groups for r in group.requests]
        async with self._database.unit_of_work() as uow:
            inputs = Inputs(
                datasets=await store.projected_datasets(uow, {r.dataset_id for r in requests}),
                policies=await store.projected_policies(uow, policy_ids(requests)),
            )
            refused = [
                [tuple(inputs.refusals(r, group.caller)) for r in group.requests]
                for group in groups
            ]
            admitted = [g for g, errors in zip(groups, refused, strict=True) if not any(errors)]
            keys = {id(r): inputs.key_of(r) for g in admitted for r in g.requests}
            await store.lock_keys(uow, keys.values())
            existing = await store.reusable(uow, keys.values())
            answers = await self._record(uow, admitted, keys, existing)
            await uow.commit()
        return [
            answers[id(group)] if not any(errors) else [Admission(errors=e) for e in errors]
            for group, errors in zip(groups, refused, strict=True)
        ]

    async def _record(
        self,
        uow: UnitOfWork,
        groups: list[_Group],
        keys: dict[int, str],
        existing: dict[str, Any],
    ) -> dict[int, list[Admission]]:
        """Insert the new simulations (the first request of each new key), add requesters to
        the existing ones, record the `simulation.requested` events."""
        new_ids: dict[str, str] = {}
        values: list[dict[str, Any]] = []
        events: list[tuple[CloudEvent, dict[str, str] | None]] = []
        requesters: list[tuple[str, Caller]] = []
        # Per request, in order: its simulation's key and whether this request created it.
        decided: list[tuple[_Group, list[tuple[str, bool]]]] = []
        for group in groups:
            decisions = []
            for request in group.requests:
                key = keys[id(request)]
                if key in existing:
                    requesters.append((existing[key]["id"], group.caller))
                    decisions.append((key, False))
                elif key in new_ids:
                    # An earlier request of this transaction creates it.
                    requesters.append((new_ids[key], group.caller))
                    decisions.append((key, False))
                else:
                    simulation_id = new_ids[key] = str(uuid.uuid4())
                    values.append(_row_values(simulation_id, request, key, group.caller))
                    event = requested_event(simulation_id, request)
                    envelope = CloudEvent.wrap(event, source=self._source, subject=simulation_id)
                    events.append((envelope, group.headers))
                    decisions.append((key, True))
            decided.append((group, decisions))
        inserted = await store.insert(uow, values)
        await uow.publish_all(events)
        await access.add_requesters(uow, requesters)
        answers: dict[int, list[Admission]] = {}
        for group, decisions in decided:
            answers[id(group)] = [
                Admission(row=existing[key], new=False)
                if key in existing
                else Admission(row=inserted[new_ids[key]], new=created)
                for key, created in decisions
            ]
        return answers


def _row_values(
    simulation_id: str, request: SimulationRequest, key: str, caller: Caller
) -> dict[str, Any]:
    return {
        "id": simulation_id,
        "status": Status.QUEUED.value,
        "dataset_id": request.dataset_id,
        "policy_id": request.policy_id,
        "baseline_policy_id": request.baseline_policy_id,
        "year": request.first_year,
        "years": request.years if request.years and len(request.years) > 1 else None,
        "region": request.region,
        "key": key,
        "outputs": request.outputs or None,
        "owner": caller.key_id,
        "requesters": [caller.key_id] if caller.key_id is not None else [],
    }
