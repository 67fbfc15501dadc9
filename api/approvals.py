"""The approvals inbox: pending proposals and a live feed of new and resolved ones.

The feed watches the pending set in Redis (the same store the agents write), so it sees
requests from every agent and decisions made anywhere: the API, ``vigil approvals``, or
an expiry. One poller per process serves every subscriber, and runs only while someone
listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from ingestion.contracts import ApprovalRequest
from tools.approvals import ApprovalLedger, PendingApprovals

log = logging.getLogger("vigil.api.approvals")


def view(request: ApprovalRequest, state: str, ledger: ApprovalLedger) -> dict[str, Any]:
    out: dict[str, Any] = request.model_dump(mode="json")
    out["state"] = state
    decision = ledger.get(request.approval_id) if state != "pending" else None
    out["decision"] = decision.model_dump(mode="json") if decision else None
    return out


class ApprovalFeed:
    def __init__(self, pending: PendingApprovals, ledger: ApprovalLedger, poll_s: float) -> None:
        self.pending = pending
        self.ledger = ledger
        self.poll_s = poll_s
        self.known: dict[str, dict[str, Any]] = {}
        self.subscribers: set[asyncio.Queue[tuple[str, Any]]] = set()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def list_pending(self) -> list[dict[str, Any]]:
        return [view(r, "pending", self.ledger) for r in self.pending.pending()]

    def show(self, approval_id: str) -> dict[str, Any] | None:
        found = self.pending.get(approval_id)
        return None if found is None else view(found[0], found[1], self.ledger)

    async def subscribe(self) -> AsyncIterator[tuple[str, Any]]:
        """A ``snapshot`` of what is pending, then ``approval.new`` / ``approval.resolved``."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=1000)
        self.subscribers.add(queue)
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._loop(), name="approvals-feed")
        try:
            await self.ready.wait()
            yield "snapshot", {"pending": list(self.known.values())}
            while True:
                yield await queue.get()
        finally:
            self.subscribers.discard(queue)

    async def _loop(self) -> None:
        self.known = {}
        first = True
        while self.subscribers:
            try:
                await self._poll(announce=not first)
            except Exception:
                log.exception("approvals feed poll failed; retrying")
            if first:
                self.ready.set()
                first = False
            await asyncio.sleep(self.poll_s)

    async def _poll(self, *, announce: bool) -> None:
        now = await asyncio.to_thread(self.list_pending)
        ids = {v["approval_id"] for v in now}
        for v in now:
            if v["approval_id"] not in self.known:
                self.known[v["approval_id"]] = v
                if announce:
                    self._broadcast("approval.new", v)
        for gone in [i for i in self.known if i not in ids]:
            del self.known[gone]
            resolved = await asyncio.to_thread(self.show, gone)
            if resolved is not None:
                self._broadcast("approval.resolved", resolved)

    def _broadcast(self, event: str, data: Any) -> None:
        for q in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait((event, data))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
