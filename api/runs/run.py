"""A run served by this process, and its numbered events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from api.jsonable import jsonable

OnDisconnect = Literal["cancel", "continue"]
TERMINAL = frozenset({"success", "error", "cancelled", "interrupted", "timeout"})
EventSource = AsyncIterator[tuple[str, Any]]


@dataclass(frozen=True, slots=True)
class RunEvent:
    seq: int
    event: str
    #: the data as JSON text (serialized once, for Redis and for every client)
    payload: str

    @property
    def data(self) -> Any:
        return json.loads(self.payload)

    @property
    def frame(self) -> bytes:
        """The event on the wire (JSON text has no newline, so one data line)."""
        return f"id: {self.seq}\nevent: {self.event}\ndata: {self.payload}\n\n".encode()


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Run:
    """A run served by this process."""

    def __init__(self, meta: dict[str, Any], on_disconnect: OnDisconnect) -> None:
        self.meta = meta
        self.on_disconnect = on_disconnect
        self.events: list[RunEvent] = []
        self.persisted = 0
        self.clients = 0
        self.started = time.perf_counter()
        self.wake = asyncio.Event()
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.cancel_timer: asyncio.TimerHandle | None = None
        self.on_end: Callable[[Run], Awaitable[None]] | None = None

    @property
    def run_id(self) -> str:
        return str(self.meta["run_id"])

    @property
    def status(self) -> str:
        return str(self.meta["status"])

    def append(self, event: str, data: Any) -> RunEvent:
        ev = RunEvent(len(self.events) + 1, event, json.dumps(jsonable(data)))
        self.events.append(ev)
        wake, self.wake = self.wake, asyncio.Event()
        wake.set()
        return ev
