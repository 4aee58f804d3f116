"""Every public `/api/v1` call, answered here or forwarded, runs the same steps.

`PIPELINE` names them in order (api/steps.py): authenticate, audit, rate_limit,
authorise, idempotency, quota; then `forward` runs the route. `PublicRoute` puts a
route behind them; `CurrentPrincipal` is the caller they identified.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from services.gateway.api.call import Call
from services.gateway.api.steps import (
    Handler,
    Rest,
    Step,
    audit,
    authenticate,
    authorise,
    forward,
    idempotency,
    quota,
    rate_limit,
)
from services.gateway.domain.auth import Principal

__all__ = ["PIPELINE", "CurrentPrincipal", "PublicRoute", "run_pipeline"]

PIPELINE: tuple[Step, ...] = (authenticate, audit, rate_limit, authorise, idempotency, quota)


def chained(steps: tuple[Step, ...], last: Rest) -> Rest:
    """`steps` in order, each handing the call to the next, ending with `last`."""
    rest = last
    for step in reversed(steps):
        rest = _then(step, rest)
    return rest


def _then(step: Step, rest: Rest) -> Rest:
    async def run(call: Call) -> Response:
        return await step(call, rest)

    return run


async def run_pipeline(request: Request, handle: Handler) -> Response:
    call = Call(request)
    try:
        return await chained(PIPELINE, forward(handle))(call)
    finally:
        await call.end_first_transaction(commit=False)


class PublicRoute(APIRoute):
    """A route of the public API: every call to it goes through `PIPELINE`."""

    def get_route_handler(self) -> Handler:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            return await run_pipeline(request, handle)

        return guarded


def current_principal(request: Request) -> Principal:
    """The caller, as `authenticate` identified them."""
    principal: Principal = request.state.principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
