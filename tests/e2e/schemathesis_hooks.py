"""Schemathesis checks of Fiscus's own (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import schemathesis

PROBLEM_JSON = "application/problem+json"
# Where a fuzzed webhook endpoint's URL is sent instead: a loopback port nothing listens
# on (discard), so that every delivery to it is refused at once.
NOWHERE = "127.0.0.1:9"


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A webhook endpoint's URL that the API could accept points nowhere: the stack
    allows private addresses, and a fuzzed one must never be delivered to. Any other
    value is left for the API to refuse."""
    if not case.operation.path.startswith("/api/v1/webhooks"):
        return
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return
    try:
        parts = urlsplit(body["url"])
    except ValueError:
        return
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        body["url"] = urlunsplit(parts._replace(netloc=NOWHERE))


@schemathesis.check
def errors_are_problem_documents(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is an RFC 9457 problem document with its status."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not str(content_type).startswith(PROBLEM_JSON):
        raise AssertionError(f"a {response.status_code} answer of type {content_type!r}")
    problem = response.json()
    if problem.get("status") != response.status_code:
        raise AssertionError(f"problem status {problem.get('status')} on a {response.status_code}")
    return None
