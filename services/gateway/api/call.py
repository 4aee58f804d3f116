"""One public call as the gateway's steps (api/steps.py) see it: the request, the caller
once known, and the call's two transactions.

The first transaction is opened on first use (the key lookup) and shared by the
idempotency claim; it is closed before the route runs.
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

from services.gateway.adapters.limiter import KeyLimiter
from services.gateway.adapters.tokens import TokenVerifier
from services.gateway.domain.auth import Principal
from shared.db import Database, UnitOfWork
from shared.service import ServiceProcess
from shared.settings import Settings

log = logging.getLogger(__name__)


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
