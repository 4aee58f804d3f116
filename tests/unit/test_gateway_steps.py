"""Each step of a public call (services/gateway/api/steps.py) on its own, with stand-ins
for what it reaches (the database, the rate limiter); the whole pipeline against
Postgres and Redis is tested in tests/service/test_gateway_*."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.gateway.api import steps
from services.gateway.api.call import Call
from services.gateway.domain.auth import Principal
from services.gateway.domain.rate_limits import WindowState
from shared.problems import ProblemError, install_problem_handlers
from shared.settings import Settings

ADMIN_KEY = "fk_admin_steps_secret"
USER = Principal(key_id="k1", role="user")
READONLY = Principal(key_id="k2", role="readonly")


@dataclass
class Limiter:
    """Answers each hit or peek with `state`, recording them."""

    state: WindowState
    hits: list[tuple[Any, ...]] = field(default_factory=list)

    async def hit(self, item: Any, *identifiers: str, cost: int = 1) -> WindowState:
        self.hits.append((*identifiers, cost))
        return self.state

    async def peek(self, item: Any, *identifiers: str) -> WindowState:
        return self.state


class NoDatabase:
    def unit_of_work(self) -> Any:
        raise AssertionError("this step must not open a transaction")


def call_of(
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    limiter: Limiter | None = None,
    principal: Principal | None = USER,
    settings: dict[str, Any] | None = None,
) -> Call:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.settings = Settings(admin_api_key=ADMIN_KEY, **(settings or {}))
    app.state.limiter = limiter
    app.state.process = SimpleNamespace(database=NoDatabase())
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "app": app,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return Call(Request(scope, receive), principal=principal)


class Rest:
    """The rest of the pipeline: answers `response`, counting its calls."""

    def __init__(self, response: Response | None = None, error: Exception | None = None) -> None:
        self.response = response or JSONResponse({"ok": True}, status_code=201)
        self.error = error
        self.calls = 0

    async def __call__(self, call: Call) -> Response:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.response


def simulation_call(body: bytes, limiter: Limiter, path: str = "simulations") -> Call:
    """A POST under a daily simulation quota of 5."""
    quota = {"default_daily_simulation_quota": 5}
    return call_of("POST", f"/api/v1/{path}", body=body, limiter=limiter, settings=quota)


def window(allowed: bool = True, remaining: int = 9) -> WindowState:
    return WindowState(allowed=allowed, limit=10, remaining=remaining, reset_at=2e9)


async def test_authenticate_knows_the_admin_key_without_the_database() -> None:
    call = call_of(
        "GET", "/api/v1/policies", {"Authorization": f"Bearer {ADMIN_KEY}"}, principal=None
    )
    rest = Rest()
    await steps.authenticate(call, rest)
    assert call.principal is not None and call.principal.role == "admin"
    assert call.request.state.principal == call.principal and rest.calls == 1


@pytest.mark.parametrize("authorization", [None, "Basic abc", "Bearer not-a-fiscus-key"])
async def test_authenticate_refuses_a_missing_or_malformed_key(authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    rest = Rest()
    with pytest.raises(ProblemError) as refused:
        await steps.authenticate(call_of("GET", "/api/v1/policies", headers, principal=None), rest)
    assert refused.value.status == 401 and rest.calls == 0


@pytest.mark.parametrize(
    ("principal", "method", "path", "allowed"),
    [
        (READONLY, "POST", "/api/v1/policies", False),
        (READONLY, "GET", "/api/v1/policies", True),
        (READONLY, "POST", "/api/v1/households/calculate", True),
        (USER, "POST", "/api/v1/keys", False),
        (USER, "POST", "/api/v1/policies", True),
    ],
)
async def test_authorise_applies_the_role_rules(
    principal: Principal, method: str, path: str, allowed: bool
) -> None:
    rest = Rest()
    call = call_of(method, path, principal=principal)
    if allowed:
        assert (await steps.authorise(call, rest)).status_code == 201
    else:
        with pytest.raises(ProblemError) as refused:
            await steps.authorise(call, rest)
        assert refused.value.status == 403
    assert rest.calls == int(allowed)


async def test_rate_limit_adds_its_headers_to_answers_and_errors() -> None:
    limiter = Limiter(window())
    answer = await steps.rate_limit(call_of("GET", "/api/v1/policies", limiter=limiter), Rest())
    assert answer.headers["RateLimit-Remaining"] == "9" and limiter.hits == [("requests", "k1", 1)]
    error = Rest(error=ProblemError(404, "Not Found", "no such policy"))
    rendered = await steps.rate_limit(call_of("GET", "/api/v1/policies/x", limiter=limiter), error)
    assert rendered.status_code == 404 and rendered.headers["RateLimit-Limit"] == "10"


async def test_rate_limit_refuses_past_the_limit_without_running_the_rest() -> None:
    rest = Rest()
    limited = Limiter(window(allowed=False, remaining=0))
    answer = await steps.rate_limit(call_of("GET", "/api/v1/policies", limiter=limited), rest)
    assert answer.status_code == 429 and "Retry-After" in answer.headers and rest.calls == 0
    assert json.loads(bytes(answer.body))["type"].endswith("rate-limited")


async def test_idempotency_passes_what_it_does_not_concern_and_refuses_a_bad_key() -> None:
    rest = Rest()
    await steps.idempotency(call_of("GET", "/api/v1/policies", {"Idempotency-Key": "a"}), rest)
    await steps.idempotency(call_of("POST", "/api/v1/policies"), rest)
    assert rest.calls == 2
    with pytest.raises(ProblemError) as refused:
        await steps.idempotency(call_of("POST", "/api/v1/policies", {"Idempotency-Key": ""}), rest)
    assert refused.value.status == 422 and refused.value.errors[0].field == "Idempotency-Key"
    assert rest.calls == 2


async def test_quota_counts_only_new_simulations_and_refuses_when_used_up() -> None:
    body = json.dumps({"dataset_id": "d", "policy_id": "p", "year": 2026}).encode()
    limiter = Limiter(window(remaining=1))
    accepted = Rest(Response(status_code=202, headers={"Location": "/api/v1/simulations/s"}))
    call = simulation_call(body, limiter, "simulations")
    assert (await steps.quota(call, accepted)).status_code == 202
    assert limiter.hits == [("simulations", "k1", 1)]
    existing = Rest(Response(status_code=200))
    await steps.quota(simulation_call(body, limiter, "simulations"), existing)
    assert len(limiter.hits) == 1  # an existing equal simulation does not count
    await steps.quota(simulation_call(body, limiter, "policies"), Rest())
    assert len(limiter.hits) == 1

    used_up = Limiter(window(remaining=0))
    rest = Rest()
    refused = await steps.quota(simulation_call(body, used_up, "simulations"), rest)
    assert refused.status_code == 429 and rest.calls == 0


async def test_audit_writes_changes_once(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[dict[str, Any]] = []

    async def record(uow: Any, **entry: Any) -> None:
        written.append(entry)

    class Database:
        def unit_of_work(self) -> Any:
            class UnitOfWork:
                async def __aenter__(self) -> UnitOfWork:
                    return self

                async def __aexit__(self, *exc: object) -> None:
                    return None

                async def commit(self) -> None:
                    return None

            return UnitOfWork()

    monkeypatch.setattr("services.gateway.db.audit.record", record)
    for method, audited_before, expected in [
        ("GET", False, 0),
        ("POST", True, 0),
        ("POST", False, 1),
    ]:
        written.clear()
        call = call_of(method, "/api/v1/policies")
        call.request.app.state.process = SimpleNamespace(database=Database())
        call.audited = audited_before
        await steps.audit(call, Rest())
        assert len(written) == expected, (method, audited_before)
    assert written[0]["principal"] == "k1" and written[0]["status"] == 201


async def test_forward_closes_the_first_transaction_before_the_route() -> None:
    events: list[str] = []

    class UnitOfWork:
        async def __aenter__(self) -> UnitOfWork:
            events.append("begin")
            return self

        async def __aexit__(self, *exc: object) -> None:
            events.append("end")

        async def commit(self) -> None:
            events.append("commit")

    call = call_of("POST", "/api/v1/policies")
    call.request.app.state.process = SimpleNamespace(
        database=SimpleNamespace(unit_of_work=UnitOfWork)
    )
    assert await call.first_transaction() is await call.first_transaction()

    async def route(request: Request) -> Response:
        events.append("route")
        return Response(status_code=204)

    assert (await steps.forward(route)(call)).status_code == 204
    assert events == ["begin", "end", "route"]
