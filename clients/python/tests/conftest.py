"""A stand-in gateway (httpx's mock transport) and the two clients driven alike.

Every test that takes `fiscus` runs twice: against `Fiscus` and against `AsyncFiscus`,
whose coroutines and async iterators `Driver` runs to the end on its own event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
import pytest

from fiscus_client import AsyncFiscus, Fiscus

URL = "http://fiscus.test"
KEY = "fk_test"
NOW = "2026-12-07T12:00:00Z"
SIMULATION = {
    "id": "sim-1",
    "status": "completed",
    "dataset_id": "ds-1",
    "policy_id": "pol-1",
    "year": 2026,
}
DATASET = {"id": "ds-1", "name": "synthetic", "year": 2026, "households": 40, "sha256": "0" * 64}
POLICY = {"id": "pol-1", "name": "CTC", "data": {"gov.x": {"2026": 1}}, "visibility": "private"}
KEY_ANSWER = {"id": "key-1", "name": "analyst", "role": "user"}
ENDPOINT = {
    "id": "wh-1",
    "url": "https://example.com/hooks",
    "event_types": ["simulation.completed"],
    "description": "",
    "enabled": True,
    "disabled_reason": None,
    "created_at": NOW,
    "updated_at": NOW,
}
DELIVERY = {
    "id": "dl-1",
    "endpoint_id": "wh-1",
    "event_id": "ev-1",
    "event_type": "webhook.test",
    "status": "pending",
    "attempt_count": 0,
    "created_at": NOW,
    "attempts": [{"attempted_at": NOW, "succeeded": False, "status_code": 500, "latency_ms": 12}],
}
REPORT = {"report_id": "r-1", "simulation_id": "sim-1", "report": {"budget": {}}}
AUDIT = {
    "id": "au-1",
    "created_at": NOW,
    "principal": "key-1",
    "role": "admin",
    "method": "POST",
    "path": "/api/v1/policies",
    "status": 201,
}
AGGREGATE = {
    "aggregate_id": "ag-1",
    "simulation_id": "sim-1",
    "year": 2026,
    "request": {"variable": "household_net_income", "stat": "sum"},
    "value": 1.5e9,
    "rows": 40,
    "weight": 1.2e8,
}
RESULTS = pd.DataFrame({"household_id": [1, 2, 3], "household_net_income": [1.0, 2.5, 4.0]})


def page(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": None}


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def binary(body: bytes, name: str, kind: str) -> httpx.Response:
    headers = {
        "Content-Type": kind,
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-SHA256": hashlib.sha256(body).hexdigest(),
    }
    return httpx.Response(200, content=body, headers=headers)


def stream(*events: tuple[str, str, dict[str, Any]]) -> httpx.Response:
    text = "retry: 3000\n\n" + "".join(
        f"id: {event_id}\nevent: {name}\ndata: {json.dumps(data)}\n\n"
        for event_id, name, data in events
    )
    return httpx.Response(200, content=text.encode(), headers={"Content-Type": "text/event-stream"})


Answer = Callable[[httpx.Request], httpx.Response]
ZIP = b"PK\x05\x06" + b"\x00" * 18
PNG = b"\x89PNG\r\n\x1a\n"

# What the stand-in gateway answers, per operation of the published OpenAPI document.
ANSWERS: dict[tuple[str, str], Answer] = {
    ("GET", "/healthz"): lambda _: httpx.Response(200, json={"status": "ok"}),
    ("GET", "/readyz"): lambda _: httpx.Response(200, json={"status": "ready"}),
    ("POST", "/api/v1/keys"): lambda _: httpx.Response(201, json={**KEY_ANSWER, "secret": "fk_"}),
    ("GET", "/api/v1/keys"): lambda _: httpx.Response(200, json=page(KEY_ANSWER)),
    ("GET", "/api/v1/keys/{key_id}"): lambda _: httpx.Response(200, json=KEY_ANSWER),
    ("DELETE", "/api/v1/keys/{key_id}"): lambda _: httpx.Response(204),
    ("GET", "/api/v1/audit"): lambda _: httpx.Response(200, json=page(AUDIT)),
    ("GET", "/api/v1/simulations/{simulation_id}/events"): lambda _: stream(
        ("e-1", "progress", {"simulation_id": "sim-1", "partitions_done": 1}),
        ("e-2", "completed", {"simulation_id": "sim-1", "status": "completed"}),
    ),
    ("POST", "/api/v1/datasets/synthetic"): lambda _: httpx.Response(201, json=DATASET),
    ("POST", "/api/v1/datasets"): lambda _: httpx.Response(201, json=DATASET),
    ("GET", "/api/v1/datasets"): lambda _: httpx.Response(200, json=page(DATASET)),
    ("GET", "/api/v1/datasets/{dataset_id}"): lambda _: httpx.Response(
        200, json=DATASET, headers={"ETag": '"ds-v1"'}
    ),
    ("DELETE", "/api/v1/datasets/{dataset_id}"): lambda _: httpx.Response(204),
    ("GET", "/api/v1/datasets/{dataset_id}/download"): lambda _: binary(
        ZIP, "dataset-ds-1.zip", "application/zip"
    ),
    ("GET", "/api/v1/datasets/{dataset_id}/original"): lambda _: binary(
        b"original", "people.zip", "application/zip"
    ),
    ("POST", "/api/v1/policies"): lambda _: httpx.Response(201, json=POLICY),
    ("GET", "/api/v1/policies"): lambda _: httpx.Response(200, json=page(POLICY)),
    ("GET", "/api/v1/policies/{policy_id}"): lambda _: httpx.Response(
        200, json=POLICY, headers={"ETag": '"pol-v1"'}
    ),
    ("PATCH", "/api/v1/policies/{policy_id}"): lambda request: httpx.Response(
        200, json={**POLICY, **json.loads(request.content)}
    ),
    ("DELETE", "/api/v1/policies/{policy_id}"): lambda _: httpx.Response(204),
    ("GET", "/api/v1/parameters"): lambda _: httpx.Response(200, json=page({"name": "gov.x"})),
    ("GET", "/api/v1/parameters/{name}"): lambda _: httpx.Response(200, json={"name": "gov.x"}),
    ("GET", "/api/v1/variables"): lambda _: httpx.Response(200, json=page({"name": "age"})),
    ("GET", "/api/v1/variables/{name}"): lambda _: httpx.Response(200, json={"name": "age"}),
    ("POST", "/api/v1/simulations/batch"): lambda _: httpx.Response(
        202, json={"items": [{"index": 0, "status": 202, "simulation": SIMULATION}]}
    ),
    ("POST", "/api/v1/simulations"): lambda _: httpx.Response(202, json=SIMULATION),
    ("GET", "/api/v1/simulations"): lambda _: httpx.Response(200, json=page(SIMULATION)),
    ("GET", "/api/v1/simulations/{simulation_id}"): lambda _: httpx.Response(200, json=SIMULATION),
    ("POST", "/api/v1/simulations/{simulation_id}/cancel"): lambda _: httpx.Response(
        200, json={**SIMULATION, "status": "cancelled"}
    ),
    ("POST", "/api/v1/households/calculate"): lambda request: httpx.Response(
        200, json=json.loads(request.content)["household"]
    ),
    ("GET", "/api/v1/simulations/{simulation_id}/report"): lambda _: httpx.Response(
        200, json=REPORT
    ),
    ("GET", "/api/v1/simulations/{simulation_id}/results"): lambda _: binary(
        parquet(RESULTS), "sim-1-2026-households.parquet", "application/vnd.apache.parquet"
    ),
    ("GET", "/api/v1/simulations/{simulation_id}/charts/{chart}.{fmt}"): lambda _: binary(
        PNG, "decile.png", "image/png"
    ),
    ("POST", "/api/v1/simulations/{simulation_id}/aggregates"): lambda _: httpx.Response(
        200, json=AGGREGATE
    ),
    ("POST", "/api/v1/webhooks"): lambda _: httpx.Response(
        201, json={**ENDPOINT, "secret": "whsec_x"}
    ),
    ("GET", "/api/v1/webhooks"): lambda _: httpx.Response(200, json=page(ENDPOINT)),
    ("GET", "/api/v1/webhooks/{endpoint_id}"): lambda _: httpx.Response(
        200, json=ENDPOINT, headers={"ETag": '"wh-v1"'}
    ),
    ("PATCH", "/api/v1/webhooks/{endpoint_id}"): lambda request: httpx.Response(
        200, json={**ENDPOINT, **json.loads(request.content)}
    ),
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): lambda _: httpx.Response(204),
    ("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret"): lambda _: httpx.Response(
        200, json={"id": "wh-1", "secret": "whsec_y"}
    ),
    ("POST", "/api/v1/webhooks/{endpoint_id}/test"): lambda _: httpx.Response(202, json=DELIVERY),
    ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"): lambda _: httpx.Response(
        200, json=page(DELIVERY)
    ),
    ("POST", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): lambda _: (
        httpx.Response(202, json={**DELIVERY, "id": "dl-2", "redelivery_of": "dl-1"})
    ),
}


def template_of(method: str, path: str) -> tuple[str, str] | None:
    """The operation (method, path template) a concrete request is for."""
    for operation in ANSWERS:
        if operation[0] != method:
            continue
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(operation[1]))
        if re.fullmatch(pattern, path):
            return operation
    return None


@dataclass
class Gateway:
    """The stand-in gateway: what it was asked, and answers a test may put first."""

    requests: list[httpx.Request] = field(default_factory=list)
    operations: list[tuple[str, str]] = field(default_factory=list)
    queued: dict[tuple[str, str], list[httpx.Response]] = field(default_factory=dict)

    def answer(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        operation = template_of(request.method, request.url.path)
        if operation is None:
            return httpx.Response(404, json={"title": "Not Found", "detail": request.url.path})
        self.operations.append(operation)
        waiting = self.queued.get(operation)
        if waiting:
            return waiting.pop(0)
        return ANSWERS[operation](request)

    def then(self, method: str, path: str, *answers: httpx.Response) -> None:
        """Answer the next requests for the operation with `answers`, in order."""
        self.queued.setdefault((method, path), []).extend(answers)


class Driver:
    """One of the two clients, called the same way: results come back finished."""

    def __init__(self, kind: str, gateway: Gateway) -> None:
        self.kind = kind
        transport = httpx.MockTransport(gateway.answer)
        self._loop = asyncio.new_event_loop()
        self.client: Fiscus | AsyncFiscus
        if kind == "sync":
            self.client = Fiscus(URL, KEY, transport=transport)
        else:
            self.client = AsyncFiscus(URL, KEY, transport=transport)

    def finish(self, value: Any) -> Any:
        """`value`, with a coroutine awaited and an (async) iterator read to its end."""
        if inspect.isawaitable(value):
            return self._loop.run_until_complete(value)
        if isinstance(value, AsyncIterator):
            return self._loop.run_until_complete(gathered(value))
        if isinstance(value, Iterator):
            return list(value)
        return value

    def call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """The client's method `method`, called and finished."""
        return self.finish(getattr(self.client, method)(*args, **kwargs))

    def on(self, target: Any, method: str, /, *args: Any, **kwargs: Any) -> Any:
        """Another object's method (a job's, say), called and finished."""
        return self.finish(getattr(target, method)(*args, **kwargs))

    def close(self) -> None:
        if isinstance(self.client, AsyncFiscus):
            self._loop.run_until_complete(self.client.aclose())
        else:
            self.client.close()
        self._loop.close()


async def gathered(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


@pytest.fixture
def gateway() -> Gateway:
    return Gateway()


@pytest.fixture(params=["sync", "async"])
def fiscus(request: pytest.FixtureRequest, gateway: Gateway) -> Iterator[Driver]:
    driver = Driver(request.param, gateway)
    yield driver
    driver.close()
