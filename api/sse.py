"""Run events as Server-Sent Events: ``id`` = the event's number, resumable."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse

from api.errors import BadRequestError
from api.runs import RunHub
from api.state import AppState

#: no run has more events than this (the ids are Redis stream ids, at most 2^64 - 1)
LAST_EVENT_ID_MAX = 2**53


def last_event_id(request: Request) -> int:
    """Where a reconnecting client left off: the header browsers send, or ?last_event_id=."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"Last-Event-ID must be an event number, got {raw!r}") from None
    if not 0 <= value <= LAST_EVENT_ID_MAX:
        raise BadRequestError(f"Last-Event-ID must be an event number in 0..{LAST_EVENT_ID_MAX}")
    return value


async def _run_stream(
    hub: RunHub, run_id: str, after: int, vigil: AppState, kind: str
) -> AsyncIterator[bytes]:
    gauge = vigil.metrics.streams.labels(kind)
    gauge.inc()
    counted = vigil.metrics.events
    try:
        async for batch in hub.events(run_id, after):
            for ev in batch:
                counted.labels(ev.event.split("|")[0]).inc()
            # frames are pre-encoded once per event; a batch goes out in one write
            yield b"".join(ev.frame for ev in batch)
    finally:
        gauge.dec()


def run_response(
    vigil: AppState, run_id: str, after: int, kind: str, headers: dict[str, str] | None = None
) -> EventSourceResponse:
    return EventSourceResponse(
        _run_stream(vigil.hub, run_id, after, vigil, kind),
        ping=int(max(1, vigil.settings.api_ping_s)),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})},
    )


async def _feed(source: AsyncIterator[tuple[str, Any]], vigil: AppState, kind: str) -> Any:
    gauge = vigil.metrics.streams.labels(kind)
    gauge.inc()
    n = 0
    try:
        async for event, data in source:
            n += 1
            yield {"id": str(n), "event": event, "data": json.dumps(data)}
    finally:
        gauge.dec()


def feed_response(
    vigil: AppState, source: AsyncIterator[tuple[str, Any]], kind: str
) -> EventSourceResponse:
    return EventSourceResponse(
        _feed(source, vigil, kind),
        ping=int(max(1, vigil.settings.api_ping_s)),
        headers={"Cache-Control": "no-store"},
    )
