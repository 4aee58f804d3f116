"""Schemathesis checks of Fiscus's own (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

from typing import Any

import schemathesis

PROBLEM_JSON = "application/problem+json"


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
