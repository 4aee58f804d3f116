"""Server-Sent Events as Fiscus streams them: parsing `text/event-stream` lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

FINAL_EVENTS = frozenset({"completed", "failed", "cancelled"})


@dataclass(frozen=True)
class ServerSentEvent:
    """One event of a stream: its type, its JSON data and its id."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None

    def json(self) -> dict[str, Any]:
        """The event's data decoded from JSON (an empty object when there is none)."""
        if not self.data:
            return {}
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded

    @property
    def is_final(self) -> bool:
        """A simulation's stream ends after this event."""
        return self.event in FINAL_EVENTS


@dataclass
class EventDecoder:
    """Turns the lines of a `text/event-stream` into events, one line at a time."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _retry: int | None = None

    def feed(self, line: str) -> ServerSentEvent | None:
        """Read one line (without its line break); returns an event at a blank line."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: heartbeats keep the connection open
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data and not self._event:
            self._retry = None
            return None
        event = ServerSentEvent(
            event=self._event or "message", data="\n".join(self._data), id=self._id, retry=None
        )
        self._event, self._data = "", []
        return event


def iter_events(lines: Iterable[str]) -> Iterator[ServerSentEvent]:
    """The events of a stream given line by line."""
    decoder = EventDecoder()
    for line in lines:
        event = decoder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event


async def aiter_events(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """The events of a stream given line by line, asynchronously."""
    decoder = EventDecoder()
    async for line in lines:
        event = decoder.feed(line.rstrip("\r\n"))
        if event is not None:
            yield event
