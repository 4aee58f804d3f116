"""One public call as the gateway's steps (api/steps.py) see it: the request, the caller
once known, and the call's two transactions.

The first transaction is opened on first use (the key lookup) and shared by the
idempotency claim; it is closed before the route runs. The second, `settle`, remembers an
idempotent answer together with its audit entry.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.api.limiter import KeyLimiter
from services.gateway.api.remembered import remembered_headers
from services.gateway.api.tokens import TokenVerifier
from services.gateway.db import idempotency as records
from services.gateway.domain.audit import is_audited
from services.gateway.domain.auth import Principal
from services.gateway.domain.idempotency import is_remembered, storable_body
from shared.db import Database, UnitOfWork
from shared.outages import is_outage
from shared.service import ServiceProcess
from shared.settings import Settings

log = logging.getLogger(__name__)

Audit = Callable[[UnitOfWork, "Call", Response], Awaitable[None]]


@dataclass
class Call:
    request: Request
    principal: Principal | None = None
    audited: bool = False
    _first: UnitOfWork | None = None

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def settings(self) -> Settings:
        settings: Settings = self.request.app.state.settings
        return settings

    @property
    def limiter(self) -> KeyLimiter | None:
        limiter: KeyLimiter | None = self.request.app.state.limiter
        return limiter

    @property
    def database(self) -> Database:
        process: ServiceProcess = self.request.app.state.process
        return process.database

    @property
    def tokens(self) -> TokenVerifier:
        state = self.request.app.state
        tokens: TokenVerifier | None = getattr(state, "tokens", None)
        if tokens is None:
            tokens = state.tokens = TokenVerifier(self.settings)
        return tokens

    async def first_transaction(self) -> UnitOfWork:
        """The call's first transaction, opened on first use."""
        if self._first is None:
            first = self.database.unit_of_work()
            await first.__aenter__()
            self._first = first
        return self._first

    async def end_first_transaction(self, *, commit: bool) -> None:
        """Commit (or roll back) and close the first transaction, if it is open."""
        first, self._first = self._first, None
        if first is None:
            return
        try:
            if commit:
                await first.commit()
        finally:
            await first.__aexit__(None, None, None)

    async def settle(self, key: str, response: Response | None, body: bytes, audit: Audit) -> None:
        """Remember the answer to a claimed Idempotency-Key, or release the claim if there
        is none to keep; in the same transaction, the audit entry of an answered change.

        The database may have gone away while the request ran: then the answer still goes
        to the client, and the claim expires after its lock time (a retry before gets 409).
        """
        assert self.principal is not None
        key_id = self.principal.key_id
        try:
            async with self.database.unit_of_work() as uow:
                if response is not None and is_remembered(response.status_code):
                    await records.complete(
                        uow,
                        key_id,
                        key,
                        status=response.status_code,
                        headers=remembered_headers(response),
                        body=storable_body(self.path, body),
                    )
                else:
                    await records.release(uow, key_id, key)
                if response is not None and is_audited(self.request.method):
                    await audit(uow, self, response)
                await uow.commit()
        except Exception as exc:
            self.audited = False  # written on its own, if it can be
            if not is_outage(exc):
                raise
            log.warning("idempotency key %s left claimed: %s: %s", key, type(exc).__name__, exc)


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
