"""RFC 9457 problem details for every error a Fiscus HTTP API returns."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logs import request_id_var
from shared.outages import causes, is_outage

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_HEADER = "X-Request-ID"


class FieldError(BaseModel):
    """One invalid input: where it is and what is wrong with it."""

    field: str
    message: str


class Problem(BaseModel):
    """The body of an error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] = []


class ProblemError(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.errors = list(errors)


def openapi_problem(description: str) -> dict[str, Any]:
    """The OpenAPI `responses` entry of an error that answers with a problem document."""
    return {"description": description, "model": Problem, "content": {PROBLEM_JSON: {}}}


def not_found(what: str, identifier: str) -> ProblemError:
    return ProblemError(404, "Not Found", f"{what} {identifier} does not exist", kind="not-found")


def invalid(errors: Sequence[FieldError], detail: str | None = None) -> ProblemError:
    summary = detail or "; ".join(f"{e.field}: {e.message}" for e in errors)
    return ProblemError(422, "Unprocessable Content", summary, kind="validation", errors=errors)


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"urn:fiscus:problem:{kind}" if kind else "about:blank",
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=request_id_var.get(),
        errors=list(errors),
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


# SQLSTATEs of text Postgres cannot hold: a NUL character in text (22021), and the
# `\u0000` escape in JSONB (22P05). Both come from what a client sent.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})
NUL_MESSAGE = "text may not contain the NUL character (\\u0000)"
# What a client waits before retrying a request refused during an outage.
OUTAGE_RETRY_AFTER_SECONDS = 5


def _is_unstorable_text(exc: BaseException) -> bool:
    return any(getattr(cause, "sqlstate", None) in _UNSTORABLE_TEXT for cause in causes(exc))


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error with problem+json and every response with a request id."""

    @app.middleware("http")
    async def request_id_middleware(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request.headers.get(REQUEST_ID_HEADER) or str(uuid.uuid4())
        token = request_id_var.set(request_id[:128])
        try:
            try:
                response = await call_next(request)
            except Exception as exc:
                if is_outage(exc):
                    response = unavailable(request, exc)
                else:
                    log.exception("unhandled error on %s %s", request.method, request.url.path)
                    response = problem_response(
                        request,
                        500,
                        "Internal Server Error",
                        "the request failed; see the server log",
                    )
            response.headers[REQUEST_ID_HEADER] = request_id[:128]
            return response
        finally:
            request_id_var.reset(token)

    @app.exception_handler(ProblemError)
    async def on_problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, kind=exc.kind, errors=exc.errors
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(field=_location(err.get("loc", ())), message=str(err.get("msg", "")))
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        return problem_response(
            request, 422, "Unprocessable Content", detail, kind="validation", errors=errors
        )

    @app.exception_handler(DBAPIError)
    async def on_database_error(request: Request, exc: DBAPIError) -> JSONResponse:
        if is_outage(exc):
            return unavailable(request, exc)
        # A field the service stores without checking for NUL: still the client's error.
        if not _is_unstorable_text(exc):
            raise exc
        errors = [FieldError(field="body", message=NUL_MESSAGE)]
        return problem_response(
            request,
            422,
            "Unprocessable Content",
            f"body: {NUL_MESSAGE}",
            kind="validation",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            request,
            exc.status_code,
            _reason(exc.status_code),
            str(exc.detail) if exc.detail else None,
            headers=dict(exc.headers) if exc.headers else None,
        )


def unavailable(request: Request, exc: BaseException) -> JSONResponse:
    """503 for a request that met a dependency's outage; the client retries it (a POST
    with the same Idempotency-Key, so that it has its effect once)."""
    log.warning(
        "%s %s refused during an outage: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc,
    )
    return problem_response(
        request,
        503,
        "Service Unavailable",
        "a service this request needs is unreachable for now; retry shortly",
        kind="unavailable",
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_SECONDS)},
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
