"""Scenario 5: the webhook receiver is down for a while, then comes back.

An endpoint is registered at a loopback port where nothing listens. Simulations
complete; each `simulation.completed` becomes a delivery whose attempts fail
(connection refused), then the receiver starts but answers 503 for a while, then 204.
The webhooks service retries each delivery on its schedule (FISCUS_WEBHOOKS_RETRY_SCHEDULE,
seconds in tests/stack_fixtures.py) — never before an attempt is due — and once the
receiver is back every delivery arrives exactly once, with a valid Standard Webhooks
signature. Attempts are read through GET /api/v1/webhooks/{id}/deliveries.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
from fiscus_client import Fiscus

from shared.settings import Settings
from tests.chaos.observers import wait_all
from tests.e2e.outsiders import webhook_receiver
from tests.infrastructure import free_port
from tests.reforms import CTC_REFORM
from tests.reliability import record, scaled
from tests.stack import RunningStack

pytestmark = pytest.mark.slow


def deliveries(fiscus: Fiscus, endpoint_id: str) -> list[dict[str, Any]]:
    page = fiscus.request(
        "GET", f"/api/v1/webhooks/{endpoint_id}/deliveries", params={"limit": 100}
    )
    return list(page["items"])


def wait_for_deliveries(
    fiscus: Fiscus, endpoint_id: str, count: int, condition: Any, timeout: float
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once `count` exist and each meets `condition`."""
    deadline = time.monotonic() + timeout
    found = deliveries(fiscus, endpoint_id)
    while time.monotonic() < deadline:
        found = deliveries(fiscus, endpoint_id)
        if len(found) >= count and all(condition(d) for d in found):
            break
        time.sleep(0.5)
    return found


def gaps(delivery: dict[str, Any]) -> list[float]:
    """Seconds between a delivery's consecutive attempts."""
    stamps = [datetime.fromisoformat(a["attempted_at"]) for a in delivery["attempts"]]
    return [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(stamps)]


def test_deliveries_wait_out_a_dead_receiver_and_arrive_once_each(
    chaos_stack: RunningStack,
) -> None:
    fiscus = Fiscus(chaos_stack.gateway_url, chaos_stack.admin_key)
    simulations = scaled(ci=2, full=5)
    schedule = [
        float(s) for s in json.loads(chaos_stack.environment["FISCUS_WEBHOOKS_RETRY_SCHEDULE"])
    ]
    jitter = float(
        chaos_stack.environment.get(
            "FISCUS_WEBHOOKS_RETRY_JITTER", Settings.model_fields["webhooks_retry_jitter"].default
        )
    )
    port = free_port()
    endpoint = fiscus.request(
        "POST",
        "/api/v1/webhooks",
        json={
            "url": f"http://127.0.0.1:{port}/hooks/fiscus",
            "event_types": ["simulation.completed"],
        },
    )
    started = time.monotonic()
    # One policy (one reformed system to build) on a dataset per simulation, so that the
    # simulations complete close together: every delivery must outlast the receiver's
    # outage within its schedule, and the outage lasts until the last one has failed.
    policy = fiscus.create_policy("chaos webhook CTC", CTC_REFORM)
    ids = []
    for n in range(simulations):
        dataset = fiscus.create_synthetic_dataset(f"chaos webhooks {n}", 40, seed=505 + n)
        ids.append(fiscus.simulate(dataset.id, policy.id, 2025).id)
    finished = wait_all(fiscus, ids, timeout=600)
    assert {s.status for s in finished.values()} == {"completed"}, finished

    # Down: nothing listens. Each delivery fails at least twice (connection refused).
    refused = wait_for_deliveries(
        fiscus, endpoint["id"], simulations, lambda d: d["attempt_count"] >= 2, timeout=120
    )
    state = {"status": 503}
    with webhook_receiver(port, lambda: state["status"]) as inbox:
        inbox.secret = endpoint["secret"]
        # Up but failing: each delivery gets a 503 at least once.
        wait_for_deliveries(
            fiscus,
            endpoint["id"],
            simulations,
            lambda d: any(a["status_code"] == 503 for a in d["attempts"]),
            timeout=120,
        )
        outage_seconds = time.monotonic() - started
        state["status"] = 204
        back = time.monotonic()
        final = wait_for_deliveries(
            fiscus, endpoint["id"], simulations, lambda d: d["status"] != "pending", timeout=120
        )
        recovery_seconds = time.monotonic() - back
        # Anything sent twice would arrive within the next retry delays.
        time.sleep(2 * max(schedule[1:]))
        final = deliveries(fiscus, endpoint["id"])
        received = list(inbox.requests)
        verified = list(inbox.verified)
        refused_by_receiver = inbox.refused

    valid = [v for v in verified if isinstance(v, dict)]
    by_event = Counter(str(v["id"]) for v in valid)
    our = Counter(
        str(v["data"]["simulation_id"]) for v in valid if v["data"].get("simulation_id") in ids
    )
    early: list[dict[str, Any]] = []
    lateness: list[float] = []
    for delivery in final:
        for k, gap in enumerate(gaps(delivery), start=1):
            due = schedule[min(k, len(schedule) - 1)]
            lateness.append(round(gap - due, 3))
            if gap < due * (1 - jitter) - 0.05:
                early.append({"delivery": delivery["id"], "attempt": k + 1, "gap": gap, "due": due})

    record(
        "webhook_receiver_down",
        simulations=simulations,
        deliveries=len(final),
        schedule_seconds=schedule,
        jitter=jitter,
        failed_attempts_connection_refused=sum(
            1
            for d in final
            for a in d["attempts"]
            if not a["succeeded"] and a["status_code"] is None
        ),
        failed_attempts_503=sum(1 for d in final for a in d["attempts"] if a["status_code"] == 503),
        attempts_per_delivery=[d["attempt_count"] for d in final],
        attempts_before_receiver_started=[d["attempt_count"] for d in refused],
        refused_by_receiver=refused_by_receiver,
        received=len(received),
        delivered=sum(1 for d in final if d["status"] == "succeeded"),
        lost=sum(1 for sid in ids if our[sid] == 0),
        duplicated=sum(n - 1 for n in by_event.values() if n > 1),
        invalid_signatures=len(verified) - len(valid),
        retries_early=len(early),
        retry_lateness_seconds_max=max(lateness, default=None),
        outage_seconds=round(outage_seconds, 1),
        seconds_to_deliver_all_after_recovery=round(recovery_seconds, 1),
    )

    assert len(valid) == len(verified), verified  # every signature valid
    assert {sid: our[sid] for sid in ids} == dict.fromkeys(ids, 1), our
    assert all(n == 1 for n in by_event.values()), by_event
    assert sorted(by_event) == sorted(d["event_id"] for d in final)
    for delivery in final:
        assert delivery["status"] == "succeeded", delivery
        assert [a["succeeded"] for a in delivery["attempts"]].count(True) == 1, delivery
        assert delivery["attempt_count"] >= 3, delivery  # refused, 503, then delivered
    assert not early, early
