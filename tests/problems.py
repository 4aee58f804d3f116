"""What every refusal of a Fiscus API must be: an RFC 9457 problem document."""

from __future__ import annotations

from typing import Any

import httpx

from shared.problems import PROBLEM_JSON


def assert_problem(
    answer: httpx.Response, status: int, *, request_id: bool = True
) -> dict[str, Any]:
    """The problem document of `answer`, checked: `status`, problem+json, its `status` the
    answer's, no traceback, and (`request_id`) the request id of its `x-request-id` header."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = answer.json()
    assert problem["status"] == status
    if request_id:
        assert problem["request_id"] == answer.headers["x-request-id"]
    assert "Traceback" not in answer.text
    return problem
