"""Runs on threads: what the chat and the threads routes share (ownership, busy status)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.auth import Principal
from api.errors import NotFoundError
from api.runs import EventSource, OnDisconnect, Run
from api.state import AppState
from api.threads import thread_status


async def owned_run(vigil: AppState, who: Principal, thread_id: str, run_id: str) -> dict[str, Any]:
    """A run's meta, if its thread is this caller's to read: 403 someone else's, 404 unknown."""
    await vigil.threads.owned(thread_id, who)
    meta = await vigil.hub.meta(run_id)
    if meta is None or meta["thread_id"] != thread_id:
        raise NotFoundError(f"no run {run_id} in thread {thread_id} (unknown or expired)")
    return meta


async def run_on_thread(
    vigil: AppState,
    who: Principal,
    thread_id: str,
    assistant_id: str,
    body: Callable[[Run], EventSource],
    *,
    on_disconnect: OnDisconnect,
    metadata: dict[str, Any] | None = None,
    thread: dict[str, Any] | None = None,
) -> Run:
    """Start a run on a thread the caller may use: the thread shows busy while it runs,
    then the status the run ended with. ``thread``: the thread as the caller just read it."""

    async def on_end(run: Run) -> None:
        await vigil.threads.update(thread_id, status=thread_status(run.status))

    run = await vigil.hub.start(
        thread_id=thread_id, assistant_id=assistant_id, owner=who.subject, body=body,
        on_disconnect=on_disconnect, metadata=metadata, on_end=on_end,
    )  # fmt: skip
    await vigil.threads.update(thread_id, known=thread, status="busy")
    return run
