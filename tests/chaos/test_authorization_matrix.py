"""The authorization matrix (issue #9, scenario 7): every public route, every kind of caller.

The real gateway over real HTTP in front of the real dataset, policy (on a tiny
parameter tree, no policyengine-us), simulation, aggregation and webhooks services,
with real Postgres, Redis and RabbitMQ. The routes come from the gateway's own
`/openapi.json`, so a new route is covered as soon as it is published; each must be
declared in `ROUTES` with the access it needs, or the test fails.

Expected outcome classes: no or a wrong key → 401 problem+json; a readonly key on a
write, or a non-admin on an admin route → 403; another owner's resource → 404;
otherwise allowed (anything but 401 and 403, and for its owner, not 404 either).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from fastapi import FastAPI

from services.aggregation.main import create_app as aggregation_app
from services.dataset.main import create_app as dataset_app
from services.gateway.main import create_app as gateway_app
from services.policy.domain.parameters import WarmParameterTree
from services.policy.main import create_app as policy_app
from services.simulation.main import create_app as simulation_app
from services.webhooks.main import create_app as webhooks_app
from shared.problems import PROBLEM_JSON
from shared.settings import Settings
from tests.parameter_trees import tiny_parameter_tree
from tests.reliability import record
from tests.service.access_fixtures import served
from tests.service.gateway_fixtures import ADMIN, ADMIN_KEY, REDIS_PREFIX, bearer

Access = Literal["public", "read", "write", "admin"]
Role = Literal["none", "invalid", "readonly", "other", "owner", "admin"]
ROLES: tuple[Role, ...] = ("none", "invalid", "readonly", "other", "owner", "admin")


@dataclass(frozen=True)
class Rule:
    """What a route requires.

    `access`: public (no key), read (any key), write (any key but a readonly one), admin.
    `owned`: the path names a resource of one owner; anyone else but an admin gets 404.
    `owner_may_miss`: even its owner may get 404 here (e.g. a report not made yet).
    """

    access: Access
    owned: bool = False
    owner_may_miss: bool = False


# Every operation of the public OpenAPI document, with what it requires.
ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): Rule("public"),
    ("GET", "/readyz"): Rule("public"),
    ("POST", "/api/v1/keys"): Rule("admin"),
    ("GET", "/api/v1/keys"): Rule("read"),
    ("GET", "/api/v1/keys/{key_id}"): Rule("read", owned=True),
    ("DELETE", "/api/v1/keys/{key_id}"): Rule("admin"),
    ("GET", "/api/v1/audit"): Rule("admin"),
    ("GET", "/api/v1/simulations/{simulation_id}/events"): Rule("read", owned=True),
    ("POST", "/api/v1/datasets/synthetic"): Rule("write"),
    ("POST", "/api/v1/datasets"): Rule("write"),
    ("GET", "/api/v1/datasets"): Rule("read"),
    ("GET", "/api/v1/datasets/{dataset_id}"): Rule("read", owned=True),
    ("DELETE", "/api/v1/datasets/{dataset_id}"): Rule("write", owned=True),
    ("GET", "/api/v1/datasets/{dataset_id}/download"): Rule("read", owned=True),
    ("GET", "/api/v1/datasets/{dataset_id}/original"): Rule("read", owned=True),
    ("POST", "/api/v1/policies"): Rule("write"),
    ("GET", "/api/v1/policies"): Rule("read"),
    ("GET", "/api/v1/policies/{policy_id}"): Rule("read", owned=True),
    ("PATCH", "/api/v1/policies/{policy_id}"): Rule("write", owned=True),
    ("DELETE", "/api/v1/policies/{policy_id}"): Rule("write", owned=True),
    ("GET", "/api/v1/parameters"): Rule("read"),
    ("GET", "/api/v1/parameters/{name}"): Rule("read"),
    ("GET", "/api/v1/variables"): Rule("read"),
    ("GET", "/api/v1/variables/{name}"): Rule("read"),
    ("POST", "/api/v1/simulations/batch"): Rule("write"),
    ("POST", "/api/v1/simulations"): Rule("write"),
    ("GET", "/api/v1/simulations"): Rule("read"),
    ("GET", "/api/v1/simulations/{simulation_id}"): Rule("read", owned=True),
    ("POST", "/api/v1/simulations/{simulation_id}/cancel"): Rule("write", owned=True),
    # A household calculation changes nothing: any key may ask for one.
    ("POST", "/api/v1/households/calculate"): Rule("read"),
    ("GET", "/api/v1/simulations/{simulation_id}/report"): Rule(
        "read", owned=True, owner_may_miss=True
    ),
    ("GET", "/api/v1/simulations/{simulation_id}/results"): Rule(
        "read", owned=True, owner_may_miss=True
    ),
    ("GET", "/api/v1/simulations/{simulation_id}/charts/{chart}.{fmt}"): Rule(
        "read", owned=True, owner_may_miss=True
    ),
    # A custom aggregate is a read, asked for with POST because it carries a query.
    ("POST", "/api/v1/simulations/{simulation_id}/aggregates"): Rule(
        "read", owned=True, owner_may_miss=True
    ),
    ("POST", "/api/v1/webhooks"): Rule("write"),
    ("GET", "/api/v1/webhooks"): Rule("read"),
    ("GET", "/api/v1/webhooks/{endpoint_id}"): Rule("read", owned=True),
    ("PATCH", "/api/v1/webhooks/{endpoint_id}"): Rule("write", owned=True),
    ("DELETE", "/api/v1/webhooks/{endpoint_id}"): Rule("write", owned=True),
    ("POST", "/api/v1/webhooks/{endpoint_id}/rotate-secret"): Rule("write", owned=True),
    ("POST", "/api/v1/webhooks/{endpoint_id}/test"): Rule("write", owned=True),
    ("GET", "/api/v1/webhooks/{endpoint_id}/deliveries"): Rule("read", owned=True),
    ("POST", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): Rule(
        "write", owned=True, owner_may_miss=True
    ),
}
METHODS = ("get", "post", "put", "patch", "delete")
CTC = "gov.credit.amount"


@dataclass
class Matrix:
    gateway: httpx.AsyncClient
    headers: dict[Role, dict[str, str]]
    path_values: dict[str, str]


async def served_quietly(running: contextlib.AsyncExitStack, app: FastAPI) -> int:
    port: int = await running.enter_async_context(served(app))
    return port


async def wait_for(check: Any, what: str) -> None:
    """Poll `check()` (bounded: 300 tries, 0.1 s apart) until it is true."""
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen in time")


@pytest.fixture(scope="module")
async def matrix(migrated: Settings, redis_prefix: str) -> AsyncIterator[Matrix]:
    services = migrated.model_copy(
        update={"webhooks_allow_private": True, "household_timeout_seconds": 3.0}
    )
    warm = WarmParameterTree(tiny_parameter_tree)
    await asyncio.to_thread(warm.wait, 120)
    async with contextlib.AsyncExitStack() as running:
        ports = {
            "dataset": await served_quietly(running, dataset_app(services)),
            "policy": await served_quietly(running, policy_app(services, parameter_tree=warm)),
            "simulation": await served_quietly(running, simulation_app(services)),
            "aggregation": await served_quietly(running, aggregation_app(services)),
            "webhooks": await served_quietly(running, webhooks_app(services)),
        }
        update: dict[str, Any] = {
            "admin_api_key": ADMIN_KEY,
            "redis_key_prefix": REDIS_PREFIX,
            "redis_timeout_seconds": 5.0,
            "default_rate_limit": "100000/minute",
            **{f"{service}_port": port for service, port in ports.items()},
        }
        settings = Settings.model_validate(services.model_copy(update=update).model_dump())
        gateway_port = await served_quietly(running, gateway_app(settings))
        gateway = await running.enter_async_context(
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway_port}", timeout=httpx.Timeout(20.0)
            )
        )
        yield await prepared(gateway)


async def prepared(gateway: httpx.AsyncClient) -> Matrix:
    """Keys of every role, and one resource of each kind owned by `owner`."""

    async def key(role: str) -> dict[str, Any]:
        answer = await gateway.post(
            "/api/v1/keys", json={"name": role, "role": role}, headers=ADMIN
        )
        assert answer.status_code == 201, answer.text
        issued: dict[str, Any] = answer.json()
        return issued

    owner_key, other_key, readonly_key = await key("user"), await key("user"), await key("readonly")
    prefix = owner_key["secret"].split("_")[1]
    headers: dict[Role, dict[str, str]] = {
        "none": {},
        # The owner's prefix with a wrong secret: found, then refused.
        "invalid": {"Authorization": f"Bearer fk_{prefix}_{'A' * 43}"},
        "readonly": bearer(readonly_key),
        "other": bearer(other_key),
        "owner": bearer(owner_key),
        "admin": ADMIN,
    }
    owner = headers["owner"]

    async def created(path: str, **request: Any) -> dict[str, Any]:
        answer = await gateway.post(path, headers=owner, **request)
        assert answer.status_code in (200, 201, 202), answer.text
        body: dict[str, Any] = answer.json()
        return body

    policy = await created(
        "/api/v1/policies", json={"name": "owned", "data": {CTC: {"2026": 3000}}}
    )
    synthetic = await created(
        "/api/v1/datasets/synthetic", json={"name": "public", "households": 20, "seed": 3}
    )
    archive = await gateway.get(f"/api/v1/datasets/{synthetic['id']}/download", headers=owner)
    assert archive.status_code == 200, archive.text
    upload = await created(
        "/api/v1/datasets",
        data={"name": "owned upload", "year": "2025"},
        files={"file": ("population.zip", archive.content, "application/zip")},
    )
    webhook = await created(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["simulation.completed"]},
    )
    request = {"policy_id": policy["id"], "dataset_id": synthetic["id"], "year": 2025}

    simulation: dict[str, Any] = {}
    last: list[str] = []

    async def submitted() -> bool:
        # The simulation service learns of the policy and dataset from the bus.
        answer = await gateway.post("/api/v1/simulations", json=request, headers=owner)
        if answer.status_code in (200, 202):
            simulation.update(answer.json())
            return True
        assert answer.status_code == 422, answer.text
        last.append(answer.text)
        return False

    await wait_for(submitted, f"a simulation accepted ({last[-1:]})")
    return Matrix(
        gateway=gateway,
        headers=headers,
        path_values={
            "key_id": owner_key["id"],
            "dataset_id": upload["id"],
            "policy_id": policy["id"],
            "simulation_id": simulation["id"],
            "endpoint_id": webhook["id"],
            "delivery_id": str(uuid.uuid4()),
            "chart": "budget",
            "fmt": "json",
        },
    )


@pytest.fixture(scope="module")
async def operations(matrix: Matrix) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation of the gateway's published OpenAPI document."""
    answer = await matrix.gateway.get("/openapi.json")
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_published_route_is_in_the_table(
    operations: list[tuple[str, str, dict[str, Any]]],
) -> None:
    published = {(method, path) for method, path, _ in operations}
    missing = sorted(published - ROUTES.keys())
    stale = sorted(ROUTES.keys() - published)
    assert not missing, f"routes without a declared access rule: {missing}"
    assert not stale, f"declared routes the gateway does not publish: {stale}"
    # Every /api/v1 operation declares the bearer key it requires.
    for method, path, operation in operations:
        if ROUTES[(method, path)].access != "public":
            assert operation.get("security") == [{"apiKey": []}], (method, path)


def concrete(path: str, values: dict[str, str]) -> str:
    """`path` with each `{parameter}` replaced by the matrix's value for it."""
    if path.startswith("/api/v1/parameters/"):
        return "/api/v1/parameters/" + CTC
    if path.startswith("/api/v1/variables/"):
        return "/api/v1/variables/age"
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no value for a parameter of {path}: declare one in prepared()"
    return path


def expected(rule: Rule, role: Role, method: str) -> str:
    """The outcome class `role` must get on a route with `rule`."""
    if rule.access == "public":
        return "allowed"
    if role in ("none", "invalid"):
        return "401"
    if role == "admin":
        return "allowed"
    if rule.access == "admin":
        return "403"
    if rule.access == "write" and role == "readonly":
        return "403"
    if rule.owned and role != "owner":
        return "404"
    return "allowed"


async def call(
    gateway: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]
) -> tuple[int, str, str]:
    """Status, content type and the start of the body; a stream is closed after its headers."""
    body = {"content": b"{}", "headers": {**headers, "content-type": "application/json"}}
    if method in ("GET", "DELETE"):
        body = {"headers": headers}
    async with gateway.stream(method, path, **body) as answer:  # type: ignore[arg-type]
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return answer.status_code, answer.headers["content-type"], ""
        text = (await answer.aread()).decode(errors="replace")
        return answer.status_code, answer.headers.get("content-type", ""), text[:300]


async def test_each_role_gets_what_the_table_says_on_every_route(
    matrix: Matrix, operations: list[tuple[str, str, dict[str, Any]]]
) -> None:
    failures: list[str] = []
    outcomes: Counter[str] = Counter()
    server_errors: list[str] = []
    # Writes by the owner and the admin last: a cancel or a refused delete changes nothing
    # for the others, who are checked first.
    for role in ("none", "invalid", "readonly", "other", "owner", "admin"):
        for method, template, _ in operations:
            rule = ROUTES.get((method, template))
            if rule is None:
                failures.append(f"{method} {template}: not in ROUTES")
                continue
            path = concrete(template, matrix.path_values)
            status, content_type, text = await call(
                matrix.gateway, method, path, matrix.headers[role]
            )
            want = expected(rule, role, method)
            outcomes[f"{want}:{status}"] += 1
            where = f"{role:>8} {method} {template} → {status} (want {want}) {text[:160]}"
            if status >= 500:
                server_errors.append(where)
            if status >= 400 and content_type != PROBLEM_JSON:
                failures.append(f"{where}: not problem+json ({content_type})")
            if want in ("401", "403", "404"):
                if status != int(want):
                    failures.append(where)
            elif status in (401, 403) or (status == 404 and rule.owned and not rule.owner_may_miss):
                failures.append(where)
    record(
        "authorization_matrix",
        routes=len(operations),
        roles=len(ROLES),
        checks=sum(outcomes.values()),
        outcomes=dict(sorted(outcomes.items())),
        mismatches=len(failures),
        server_errors=len(server_errors),
        server_error_cases=server_errors,
    )
    assert not failures, "\n".join(failures)
    assert not server_errors, "\n".join(server_errors)
