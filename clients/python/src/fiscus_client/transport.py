"""What the sync and async clients share: configuration, errors, and answers to models."""

from __future__ import annotations

import hashlib
import os
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from fiscus_client.models import Simulation, SimulationEvent

VERSION = "0.2.0"
DEFAULT_URL = "http://127.0.0.1:8000"
# A read may wait this long on an idle event stream (the server sends heartbeats).
STREAM_READ_TIMEOUT = 60.0

Model = TypeVar("Model", bound=BaseModel)


class FiscusError(Exception):
    """An error answer from Fiscus, carrying its problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('title')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


def resolve_config(url: str | None, api_key: str | None) -> tuple[str, str]:
    """The gateway URL and API key: the arguments, else FISCUS_URL and FISCUS_API_KEY."""
    resolved_url = url or os.environ.get("FISCUS_URL") or DEFAULT_URL
    resolved_key = api_key or os.environ.get("FISCUS_API_KEY")
    if not resolved_key:
        raise ValueError("no API key: pass api_key or set FISCUS_API_KEY")
    return resolved_url.rstrip("/"), resolved_key


def auth_headers(api_key: str) -> dict[str, str]:
    """The headers every request carries."""
    return {"Authorization": f"Bearer {api_key}", "User-Agent": f"fiscus-client/{VERSION}"}


def error_of(answer: httpx.Response) -> FiscusError:
    """The error an answer of status 400 or more stands for."""
    try:
        problem = answer.json()
        if not isinstance(problem, dict):
            raise ValueError("not an object")
    except ValueError:
        problem = {"title": answer.reason_phrase, "detail": answer.text[:500]}
    return FiscusError(answer.status_code, problem)


def decoded(answer: httpx.Response) -> Any:
    """The JSON body of a successful answer; FiscusError for an error answer."""
    if answer.status_code >= 400:
        raise error_of(answer)
    if answer.status_code == 204 or not answer.content:
        return None
    return answer.json()


def simulation_event(event: str, data: dict[str, Any]) -> SimulationEvent:
    """A stream event as a typed object (the `status` event's simulation flattened in)."""
    simulation = data.get("simulation")
    fields = {**data}
    if isinstance(simulation, dict):
        fields.setdefault("simulation_id", simulation.get("id"))
    return SimulationEvent.model_validate({**fields, "event": event})


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Query parameters or a body without the options left unset."""
    return {key: value for key, value in values.items() if value is not None}


def batch_items(answer: Any) -> list[Simulation]:
    """The simulations of a batch answer (`{items: [{index, status, simulation}]}`), in order."""
    items = answer.get("items") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise FiscusError(502, {"title": "Unexpected answer", "detail": str(answer)[:500]})
    return [Simulation.model_validate(item.get("simulation", item)) for item in items]


def checked_body(body: bytes, expected: str | None, actual: str | None = None) -> bytes:
    """`body`, once its SHA-256 (or `actual`, the digest of what was streamed) equals the
    server's `expected` X-Content-SHA256; FiscusError for a corrupt download."""
    if expected is not None:
        actual = actual if actual is not None else hashlib.sha256(body).hexdigest()
        if actual != expected.strip().lower():
            detail = f"SHA-256 {actual}, but the server sent X-Content-SHA256 {expected}"
            raise FiscusError(502, {"title": "Corrupt download", "detail": detail})
    return body
