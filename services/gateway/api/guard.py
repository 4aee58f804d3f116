"""The steps every public `/api/v1` call goes through, whether answered here or forwarded.

Authenticate, count the call against the key's rate limit, apply the role rules, honour
an Idempotency-Key on POST, check the daily simulation quota, then run the route.
Every answer after authentication carries the key's rate-limit headers, errors included;
that is why errors are rendered here rather than left to the app's handlers.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from services.gateway.api.limiter import KeyLimiter, LimiterUnavailable
from services.gateway.api.remembered import (
    IDEMPOTENCY_HEADER,
    buffered,
    remembered_headers,
    replay,
)
from services.gateway.api.simulation_quota import simulation_quota
from services.gateway.api.tokens import TokenVerifier
from services.gateway.db import audit as audit_log
from services.gateway.db import idempotency as records
from services.gateway.db import keys as store
from services.gateway.domain.audit import is_audited, touched
from services.gateway.domain.auth import Principal, authenticate, bearer_token, refusal
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
from services.gateway.domain.rate_limits import (
    parse_rate_limit,
    rate_limit_headers,
    retry_after,
)
from services.gateway.domain.tokens import TokenRefused, looks_like_jwt
from shared.db import Database, UnitOfWork
from shared.logs import request_id_var
from shared.outages import is_outage
from shared.problems import FieldError, ProblemError, invalid, problem_response
from shared.service import ServiceProcess
from shared.settings import Settings

log = logging.getLogger(__name__)


T = TypeVar("T")
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class PublicRoute(APIRoute):
    """A route of the public API: every call to it goes through `answer`."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            return await answer(request, handle)

        return guarded


def current_principal(request: Request) -> Principal:
    """The caller, as `PublicRoute` identified them."""
    principal: Principal = request.state.principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _limiter(request: Request) -> KeyLimiter | None:
    limiter: KeyLimiter | None = request.app.state.limiter
    return limiter


def _process(request: Request) -> ServiceProcess:
    process: ServiceProcess = request.app.state.process
    return process


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, kind="unauthorized")


def _tokens(request: Request) -> TokenVerifier:
    tokens: TokenVerifier | None = getattr(request.app.state, "tokens", None)
    if tokens is None:
        tokens = request.app.state.tokens = TokenVerifier(_settings(request))
    return tokens


async def token_principal(request: Request, token: str) -> Principal:
    """The caller a bearer JWT names; 401 when JWTs are off or this one is not valid."""
    tokens = _tokens(request)
    if not tokens.enabled:
        raise unauthorized("send a valid API key as `Authorization: Bearer <key>`")
    try:
        return await tokens.principal(token)
    except TokenRefused as exc:
        raise unauthorized(str(exc)) from exc


async def identify(request: Request) -> Principal:
    """The caller of `request`; 401 for a missing, wrong or revoked key."""
    settings = _settings(request)
    token = bearer_token(request.headers.get("authorization"))
    admin_key = settings.admin_api_key.get_secret_value() if settings.admin_api_key else None
    bootstrap = authenticate(token, admin_key)
    if bootstrap is not None:
        return bootstrap
    if token is not None and looks_like_jwt(token):
        return await token_principal(request, token)
    prefix = prefix_of(token) if token else None
    if token is None or prefix is None:
        raise unauthorized("send a valid API key as `Authorization: Bearer <key>`")
    async with _process(request).database.unit_of_work() as uow:
        row = await store.find_key_by_prefix(uow, prefix)
    if row is None or not secret_matches(token, row["secret_sha256"]):
        raise unauthorized("send a valid API key as `Authorization: Bearer <key>`")
    if row["revoked_at"] is not None:
        raise unauthorized("this API key was revoked")
    return Principal(
        key_id=str(row["id"]),
        role=row["role"],
        rate_limit=row["rate_limit"],
        daily_simulation_quota=row["daily_simulation_quota"],
    )


async def limited(call: Awaitable[T]) -> T:
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


async def answer(request: Request, handle: Handler) -> Response:
    principal = await identify(request)
    request.state.principal = principal
    request.state.audited = False
    response = await limited_answer(request, handle, principal)
    if is_audited(request.method) and not request.state.audited:
        await audited(request, principal, response)
    return response


async def record_audit(
    uow: UnitOfWork, request: Request, principal: Principal, response: Response
) -> None:
    """Who changed what, and the answer's status, in the audit log (in `uow`)."""
    where = touched(request.url.path, response.headers.get("location"))
    await audit_log.record(
        uow,
        principal=principal.key_id,
        role=principal.role,
        method=request.method,
        path=request.url.path,
        resource_type=where.resource_type,
        resource_id=where.resource_id,
        status=response.status_code,
        request_id=request_id_var.get(),
    )
    request.state.audited = True


async def audited(request: Request, principal: Principal, response: Response) -> None:
    """Write who changed what, and the answer's status, to the audit log."""
    try:
        async with _process(request).database.unit_of_work() as uow:
            await record_audit(uow, request, principal, response)
            await uow.commit()
    except Exception:
        # The change itself is done; its answer must not be lost to the log's failure.
        log.exception("audit entry of %s %s not written", request.method, request.url.path)


async def limited_answer(request: Request, handle: Handler, principal: Principal) -> Response:
    limiter = _limiter(request)
    headers: dict[str, str] = {}
    if limiter is not None:
        rate = principal.rate_limit or _settings(request).default_rate_limit
        state = await limited(limiter.hit(parse_rate_limit(rate), "requests", principal.key_id))
        now = time.time()
        headers = rate_limit_headers(state, now)
        if not state.allowed:
            return problem_response(
                request,
                429,
                "Too Many Requests",
                f"this API key may make {rate} requests; retry after "
                f"{retry_after(state, now)} seconds",
                kind="rate-limited",
                headers={**headers, "Retry-After": retry_after(state, now)},
            )
    response = await rendered(request, respond(request, handle, principal))
    response.headers.update(headers)
    return response


async def rendered(request: Request, call: Awaitable[Response]) -> Response:
    """The response of `call`, or the app's rendering of the error it raised."""
    try:
        return await call
    except Exception as exc:
        handler = _handler_for(request.app, exc)
        if handler is None:
            raise
        response = handler(request, exc)
        if inspect.isawaitable(response):
            response = await response
        assert isinstance(response, Response)
        return response


def _handler_for(app: FastAPI, exc: Exception) -> Callable[..., Any] | None:
    # `Exception` itself is left to the request-id middleware: an unexpected error
    # is a 500 that must not be remembered as an answer.
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in app.exception_handlers:
            handler: Callable[..., Any] = app.exception_handlers[kind]
            return handler
    return None


async def respond(request: Request, handle: Handler, principal: Principal) -> Response:
    reason = refusal(principal.role, request.method, request.url.path)
    if reason is not None:
        raise ProblemError(403, "Forbidden", reason, kind="forbidden")
    idempotency_key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method == "POST" and idempotency_key is not None:
        return await idempotently(request, handle, principal, idempotency_key)
    return await within_quota(request, handle, principal)


async def within_quota(request: Request, handle: Handler, principal: Principal) -> Response:
    """Run the route; a simulation request first checks, then counts, the daily quota."""
    quota = simulation_quota(_limiter(request), principal, _settings(request))
    counted = request.method == "POST" and request.url.path in (SIMULATIONS_PATH, BATCH_PATH)
    if quota is None or not counted:
        return await handle(request)
    state = await limited(quota.state())
    if state.remaining < simulations_requested(request.url.path, await request.body()):
        now = time.time()
        return problem_response(
            request,
            429,
            "Too Many Requests",
            quota.refusal,
            kind="quota-exhausted",
            headers={"Retry-After": retry_after(state, now)},
        )
    response = await handle(request)
    # Only new simulations count: a refused request, or one answered with an existing
    # equal simulation (200), does not use the quota up.
    accepted = accepted_simulations(request.url.path, response.status_code, response.headers)
    if accepted:
        await quota.count(accepted)
    return response


async def idempotently(
    request: Request, handle: Handler, principal: Principal, idempotency_key: str
) -> Response:
    """Run a POST once per Idempotency-Key; a retry gets the first answer back."""
    error = key_error(idempotency_key)
    if error is not None:
        raise invalid([FieldError(field=IDEMPOTENCY_HEADER, message=error)])
    settings = _settings(request)
    database = _process(request).database
    this = fingerprint(request.method, request.url.path, await request.body())
    async with database.unit_of_work() as uow:
        held = await records.claim(
            uow,
            principal.key_id,
            idempotency_key,
            this,
            ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
            lock=timedelta(seconds=settings.idempotency_lock_seconds),
        )
        await uow.commit()
    if held is not None:
        return replay(held, this)
    try:
        response = await rendered(request, within_quota(request, handle, principal))
        response, body = await buffered(response)
    except BaseException:
        await _settle(database, request, principal, idempotency_key, None, b"")
        raise
    await _settle(database, request, principal, idempotency_key, response, body)
    return response


async def _settle(
    database: Database,
    request: Request,
    principal: Principal,
    idempotency_key: str,
    response: Response | None,
    body: bytes,
) -> None:
    """Remember the answer to a claimed key, or release the claim if there is none to keep;
    in the same transaction, the audit entry of an answered change.

    The database may have gone away while the request ran: then the answer still goes to
    the client, and the claim expires after its lock time (a retry before gets 409).
    """
    key_id, path = principal.key_id, request.url.path
    try:
        async with database.unit_of_work() as uow:
            if response is not None and is_remembered(response.status_code):
                await records.complete(
                    uow,
                    key_id,
                    idempotency_key,
                    status=response.status_code,
                    headers=remembered_headers(response),
                    body=storable_body(path, body),
                )
            else:
                await records.release(uow, key_id, idempotency_key)
            if response is not None and is_audited(request.method):
                await record_audit(uow, request, principal, response)
            await uow.commit()
    except Exception as exc:
        request.state.audited = False  # written on its own, if it can be
        if not is_outage(exc):
            raise
        log.warning(
            "idempotency key %s left claimed: %s: %s", idempotency_key, type(exc).__name__, exc
        )
