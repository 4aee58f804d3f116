"""Strong entity tags of single resources, and the `If-Match` precondition on changes.

A resource's ETag is the SHA-256 of its JSON representation: any change to what a
client reads changes it, and equal representations have equal tags. PATCH and DELETE
require `If-Match` (RFC 9110 §13.1.1, RFC 6585 §3): without it 428, with a tag that
is not the current one 412, so that a client never overwrites a change it has not seen.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header, Response
from pydantic import BaseModel

from shared.problems import ProblemError, openapi_problem

IF_MATCH = "If-Match"

# The `If-Match` header of a PATCH or DELETE route, and the answers it may cause.
IfMatchHeader = Annotated[
    str | None,
    Header(alias=IF_MATCH, description="The resource's current ETag, or `*` (required)"),
]
PRECONDITION_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: openapi_problem("If-Match does not name the current ETag"),
    428: openapi_problem("If-Match is missing"),
}


def etag_of(resource: BaseModel) -> str:
    """The strong entity tag of a resource as the API shows it."""
    return '"' + hashlib.sha256(resource.model_dump_json().encode()).hexdigest() + '"'


def tagged(resource: BaseModel, response: Response) -> None:
    """Send `resource`'s ETag with `response`."""
    response.headers["ETag"] = etag_of(resource)


def matches(if_match: str, current: str) -> bool:
    """Whether an `If-Match` value names `current` (strong comparison; `*` matches any)."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or any(tag == current and not tag.startswith("W/") for tag in tags)


def require_match(if_match: str | None, resource: BaseModel) -> None:
    """Refuse a change unless `If-Match` names the resource's current ETag."""
    if if_match is None or not if_match.strip():
        raise ProblemError(
            428,
            "Precondition Required",
            f"send {IF_MATCH} with the resource's current ETag (from GET) to change it",
            kind="precondition-required",
        )
    if not matches(if_match, etag_of(resource)):
        raise ProblemError(
            412,
            "Precondition Failed",
            "the resource changed since that ETag; GET it again and retry",
            kind="precondition-failed",
        )
