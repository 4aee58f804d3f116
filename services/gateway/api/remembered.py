"""A remembered answer to an idempotent POST: how it is kept, and how a retry gets it back."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.responses import Response, StreamingResponse

from services.gateway.db import idempotency as records
from services.gateway.domain.idempotency import Fingerprint, Verdict, verdict
from shared.problems import ProblemError

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Headers a remembered answer is replayed without: they belong to the moment of sending.
UNREMEMBERED = frozenset({"content-length", "date", "server"})


def remembered_headers(response: Response) -> list[list[str]]:
    return [
        [name, value]
        for name, value in response.headers.items()
        if name.lower() not in UNREMEMBERED
    ]


def replay(held: sa.RowMapping, this: Fingerprint) -> Response:
    """The stored answer to a retry, or why there is none to give."""
    match verdict(records.fingerprint_of(held), held["status"] == records.COMPLETED, this):
        case Verdict.OTHER_REQUEST:
            raise ProblemError(
                422,
                "Unprocessable Content",
                f"this {IDEMPOTENCY_HEADER} was used for another request; use a new key",
                kind="idempotency-key-reused",
            )
        case Verdict.IN_FLIGHT:
            raise ProblemError(
                409,
                "Conflict",
                f"a request with this {IDEMPOTENCY_HEADER} is still in flight; retry shortly",
                kind="idempotency-in-flight",
            )
    headers = {name: value for name, value in held["response_headers"]}
    headers[REPLAYED_HEADER] = "true"
    return Response(held["response_body"], status_code=held["response_status"], headers=headers)


async def buffered(response: Response) -> tuple[Response, bytes]:
    """The whole body of `response`, and a response that sends it again."""
    if not isinstance(response, StreamingResponse):
        return response, bytes(response.body)
    chunks = [
        chunk
        if isinstance(chunk, bytes)
        else bytes(chunk, "utf-8")
        if isinstance(chunk, str)
        else bytes(chunk)
        async for chunk in response.body_iterator
    ]
    body = b"".join(chunks)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    again = Response(
        body, status_code=response.status_code, headers=headers, background=response.background
    )
    return again, body
