"""The app's state and the dependencies routes declare (``Vigil``, ``Caller``, ``Staff``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from api.approvals import ApprovalFeed
from api.auth import SESSION_COOKIE, Authenticator, Principal
from api.deps import ApiDeps
from api.errors import ApiError, NotFoundError
from api.graph_runs import ChatGraphs
from api.metrics import ApiMetrics
from api.runs import EventSource, OnDisconnect, Run, RunHub
from api.threads import ThreadStore, thread_status
from vigil.settings import Settings


@dataclass
class AppState:
    settings: Settings
    deps: ApiDeps
    auth: Authenticator
    metrics: ApiMetrics
    hub: RunHub
    threads: ThreadStore
    graphs: ChatGraphs
    feed: ApprovalFeed
    started: float = field(default_factory=time.time)
    last_ready: dict[str, Any] | None = None


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


def app_state(request: Request) -> AppState:
    st: AppState = request.app.state.vigil
    return st


Vigil = Annotated[AppState, Depends(app_state)]


def credential_of(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return request.headers.get("x-api-key") or request.cookies.get(SESSION_COOKIE)


def caller(request: Request, vigil: Vigil) -> Principal:
    try:
        return vigil.auth.authenticate(credential_of(request))
    except ApiError:
        vigil.metrics.refusals.labels("401").inc()
        raise


Caller = Annotated[Principal, Depends(caller)]


def staff(who: Caller, vigil: Vigil) -> Principal:
    if not who.staff:
        vigil.metrics.refusals.labels("403").inc()
        who.require("analyst", "admin", doing="the approvals inbox")
    return who


Staff = Annotated[Principal, Depends(staff)]
