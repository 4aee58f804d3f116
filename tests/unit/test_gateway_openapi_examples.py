"""The public OpenAPI document: every operation has examples, and every example is valid.

The document is composed exactly as the gateway composes it (tests/openapi_document.py).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.openapi_document import composed

BINARY = (
    "application/zip",
    "application/octet-stream",
    "image/png",
    "image/svg+xml",
    "application/vnd.apache.parquet",
)


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in composed()["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    ]


def validate(example: Any, schema: dict[str, Any]) -> None:
    # The document's components travel with the schema, so that `#/components/...` resolves.
    rooted = {**schema, "components": composed()["components"]}
    jsonschema.Draft202012Validator(rooted).validate(example)


def examples_of(operation: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    found = []
    bodies = [("request", operation.get("requestBody", {}).get("content", {}))]
    bodies += [
        (f"response {status}", answer.get("content", {}))
        for status, answer in operation.get("responses", {}).items()
        if str(status).startswith("2")
    ]
    for where, content in bodies:
        for media_type, media in content.items():
            if media_type.endswith("json") and "schema" in media:
                found.append((f"{where} {media_type}", media.get("example"), media["schema"]))
    return found


def test_every_operation_shows_a_request_and_a_response_example() -> None:
    missing = []
    for method, path, operation in operations():
        body = operation.get("requestBody", {}).get("content", {})
        json_bodies = [m for t, m in body.items() if t.endswith("json")]
        if any("example" not in m for m in json_bodies):
            missing.append(f"{method} {path}: request")
        answers = {
            status: answer.get("content", {})
            for status, answer in operation.get("responses", {}).items()
            if str(status).startswith("2")
        }
        for status, content in answers.items():
            for media_type, media in content.items():
                if media_type in BINARY:
                    continue
                if "example" not in media and "examples" not in media:
                    missing.append(f"{method} {path}: response {status} {media_type}")
    assert missing == []
    assert len(operations()) >= 30


@pytest.mark.parametrize(("method", "path"), [(method, path) for method, path, _ in operations()])
def test_every_example_is_valid_for_its_schema(method: str, path: str) -> None:
    operation = composed()["paths"][path][method]
    for where, example, schema in examples_of(operation):
        try:
            validate(example, schema)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{method.upper()} {path} {where}: {exc.message} at {list(exc.path)}")


def test_the_sse_route_is_documented_as_an_event_stream() -> None:
    operation = composed()["paths"]["/api/v1/simulations/{simulation_id}/events"]["get"]
    stream = operation["responses"]["200"]["content"]["text/event-stream"]
    assert "event: progress" in stream["example"]
    assert operation["security"] == [{"apiKey": []}]
