"""The steps of a public `/api/v1` call, each a function of the call and the rest.

`guard.PIPELINE` runs them in order: `authenticate` (who calls), `audit` (who changed
what, once the answer is known), `rate_limit` (count the call, add the key's rate-limit
headers to every answer after it, errors included, which is why errors are rendered
here), `authorise` (the role's rules), `idempotency` (an Idempotency-Key on POST),
`quota` (the daily simulation quota), then `forward` (the route itself: a local handler
or the proxy to the service behind).

A call makes at most two gateway transactions: the key lookup and the idempotency claim
share the first, which `forward` closes before the route runs; remembering the answer
and the audit entry share the second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.adapters.limiter import LimiterUnavailable
from services.gateway.api.call import Call, rendered
from services.gateway.api.remembered import (
    IDEMPOTENCY_HEADER,
    buffered,
    remembered_headers,
    replay,
)
from services.gateway.api.simulation_quota import simulation_quota
from services.gateway.db import audit as audit_log
from services.gateway.db import idempotency as records
from services.gateway.db import keys as store
from services.gateway.domain.audit import is_audited, touched
from services.gateway.domain.auth import Principal, bearer_token, refusal
from services.gateway.domain.auth import authenticate as bootstrap
from services.gateway.domain.idempotency import (
    fingerprint,
    is_remembered,
    key_error,
    storable_body,
)
from services.gateway.domain.keys import prefix_of, secret_matches
from services.gateway.domain.quota import (
    BATCH_PATH,
    SIMULATIONS_PATH,
    accepted_simulations,
    simulations_requested,
)
from services.gateway.domain.rate_limits import parse_rate_limit, rate_limit_headers, retry_after
from services.gateway.domain.tokens import TokenRefused, looks_like_jwt
from shared.db import UnitOfWork
from shared.logs import request_id_var
from shared.outages import is_outage
from shared.problems import FieldError, ProblemError, invalid, problem_response

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Rest = Callable[[Call], Awaitable[Response]]
Step = Callable[[Call, Rest], Awaitable[Response]]
NO_KEY = "send a valid API key as `Authorization: Bearer <key>`"


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, kind="unauthorized")


async def authenticate(call: Call, rest: Rest) -> Response:
    """Who calls: the bootstrap admin key, a bearer JWT, or a stored API key (looked up
    in the call's first transaction); 401 for a missing, wrong or revoked one."""
    call.principal = await _principal(call)
    call.request.state.principal = call.principal
    return await rest(call)


async def _principal(call: Call) -> Principal:
    settings = call.settings
    token = bearer_token(call.request.headers.get("authorization"))
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    found = bootstrap(token, admin_key)
    if found is not None:
        return found
    if token is not None and looks_like_jwt(token):
        if not call.tokens.enabled:
            raise unauthorized(NO_KEY)
        try:
            return await call.tokens.principal(token)
        except TokenRefused as exc:
            raise unauthorized(str(exc)) from exc
    prefix = prefix_of(token) if token else None
    if token is None or prefix is None:
        raise unauthorized(NO_KEY)
    row = await store.find_key_by_prefix(await call.first_transaction(), prefix)
    if row is None or not secret_matches(token, row["secret_sha256"]):
        raise unauthorized(NO_KEY)
    if row["revoked_at"] is not None:
        raise unauthorized("this API key was revoked")
    return Principal(
        key_id=str(row["id"]),
        role=row["role"],
        rate_limit=row["rate_limit"],
        daily_simulation_quota=row["daily_simulation_quota"],
    )


async def audit(call: Call, rest: Rest) -> Response:
    """After a change (POST, PUT, PATCH, DELETE): who changed what and the answer's
    status, unless `idempotency` already wrote it with the remembered answer."""
    response = await rest(call)
    if is_audited(call.request.method) and not call.audited:
        try:
            async with call.database.unit_of_work() as uow:
                await record_audit(uow, call, response)
                await uow.commit()
        except Exception:
            # The change itself is done; its answer must not be lost to the log's failure.
            log.exception("audit entry of %s %s not written", call.request.method, call.path)
    return response


async def record_audit(uow: UnitOfWork, call: Call, response: Response) -> None:
    """The audit entry of `call`'s answer, in `uow`."""
    assert call.principal is not None
    where = touched(call.path, response.headers.get("location"))
    await audit_log.record(
        uow,
        principal=call.principal.key_id,
        role=call.principal.role,
        method=call.request.method,
        path=call.path,
        resource_type=where.resource_type,
        resource_id=where.resource_id,
        status=response.status_code,
        request_id=request_id_var.get(),
    )
    call.audited = True


async def limited(call: Awaitable[T]) -> T:
    """`call` to the rate limiter; 503 when the limiter cannot answer."""
    try:
        return await call
    except LimiterUnavailable as exc:
        log.warning("rate limiter unavailable: %s", exc)
        raise ProblemError(
            503,
            "Service Unavailable",
            "rate limits cannot be checked right now; try again shortly",
            kind="unavailable",
        ) from exc


async def rate_limit(call: Call, rest: Rest) -> Response:
    """Count the call against the key's rate limit: 429 past it; every later answer, an
    error included, carries the limit's headers."""
    assert call.principal is not None
    headers: dict[str, str] = {}
    if call.limiter is not None:
        rate = call.principal.rate_limit or call.settings.default_rate_limit
        hit = call.limiter.hit(parse_rate_limit(rate), "requests", call.principal.key_id)
        state = await limited(hit)
        now = time.time()
        headers = rate_limit_headers(state, now)
        if not state.allowed:
            return problem_response(
                call.request,
                429,
                "Too Many Requests",
                f"this API key may make {rate} requests; retry after "
                f"{retry_after(state, now)} seconds",
                kind="rate-limited",
                headers={**headers, "Retry-After": retry_after(state, now)},
            )
    response = await rendered(call.request, rest(call))
    response.headers.update(headers)
    return response


async def authorise(call: Call, rest: Rest) -> Response:
    """The role's rules: 403 for what the caller's role may not do."""
    assert call.principal is not None
    reason = refusal(call.principal.role, call.request.method, call.path)
    if reason is not None:
        raise ProblemError(403, "Forbidden", reason, kind="forbidden")
    return await rest(call)


async def idempotency(call: Call, rest: Rest) -> Response:
    """A POST with an Idempotency-Key runs once per key: the claim is made in the call's
    first transaction; a retry gets the first answer back, remembered with the audit
    entry in one transaction."""
    key = call.request.headers.get(IDEMPOTENCY_HEADER)
    if call.request.method != "POST" or key is None:
        return await rest(call)
    assert call.principal is not None
    error = key_error(key)
    if error is not None:
        raise invalid([FieldError(field=IDEMPOTENCY_HEADER, message=error)])
    this = fingerprint(call.request.method, call.path, await call.request.body())
    uow = await call.first_transaction()
    held = await records.claim(
        uow,
        call.principal.key_id,
        key,
        this,
        ttl=timedelta(seconds=call.settings.idempotency_ttl_seconds),
        lock=timedelta(seconds=call.settings.idempotency_lock_seconds),
    )
    await call.end_first_transaction(commit=True)
    if held is not None:
        return replay(held, this)
    try:
        response, body = await buffered(await rendered(call.request, rest(call)))
    except BaseException:
        await _settle(call, key, None, b"")
        raise
    await _settle(call, key, response, body)
    return response


async def _settle(call: Call, key: str, response: Response | None, body: bytes) -> None:
    """Remember the answer to a claimed Idempotency-Key, or release the claim if there is
    none to keep; in the same transaction, the audit entry of an answered change.

    The database may have gone away while the request ran: then the answer still goes to
    the client, and the claim expires after its lock time (a retry before gets 409).
    """
    assert call.principal is not None
    key_id = call.principal.key_id
    try:
        async with call.database.unit_of_work() as uow:
            if response is not None and is_remembered(response.status_code):
                await records.complete(
                    uow,
                    key_id,
                    key,
                    status=response.status_code,
                    headers=remembered_headers(response),
                    body=storable_body(call.path, body),
                )
            else:
                await records.release(uow, key_id, key)
            if response is not None and is_audited(call.request.method):
                await record_audit(uow, call, response)
            await uow.commit()
    except Exception as exc:
        call.audited = False  # written on its own by `audit`, if it can be
        if not is_outage(exc):
            raise
        log.warning("idempotency key %s left claimed: %s: %s", key, type(exc).__name__, exc)


async def quota(call: Call, rest: Rest) -> Response:
    """A simulation request first checks, then counts, the key's daily quota: 429 when
    it would go past it. Only new simulations count: a refused request, or one answered
    with an existing equal simulation (200), does not use the quota up."""
    assert call.principal is not None
    path = call.path
    counted = call.request.method == "POST" and path in (SIMULATIONS_PATH, BATCH_PATH)
    daily = simulation_quota(call.limiter, call.principal, call.settings) if counted else None
    if daily is None:
        return await rest(call)
    state = await limited(daily.state())
    if state.remaining < simulations_requested(path, await call.request.body()):
        return problem_response(
            call.request,
            429,
            "Too Many Requests",
            daily.refusal,
            kind="quota-exhausted",
            headers={"Retry-After": retry_after(state, time.time())},
        )
    response = await rest(call)
    accepted = accepted_simulations(path, response.status_code, response.headers)
    if accepted:
        await daily.count(accepted)
    return response


def forward(handle: Handler) -> Rest:
    """The route itself, run once the gateway's first transaction is closed (no
    connection is held while a service behind answers)."""

    async def run(call: Call) -> Response:
        await call.end_first_transaction(commit=False)
        return await handle(call.request)

    return run
