"""The approvals inbox: pending proposals and a live feed of new and resolved ones.

The feed follows the change stream of the pending store in Redis (the store the agents
write), so it sees requests from every agent and decisions made anywhere: the API,
``vigil approvals``, or an expiry. One reader per process serves every subscriber, and
runs only while someone listens.
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

    def list_decided(self, limit: int) -> list[dict[str, Any]]:
        return [view(r, state, self.ledger) for r, state in self.pending.decided(limit)]

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
        """Follow the approvals' change stream: nothing is missed between two reads, even a
        request that is decided within moments of being made."""
        after = await asyncio.to_thread(self.pending.last_change)
        self.known = {v["approval_id"]: v for v in await asyncio.to_thread(self.list_pending)}
        self.ready.set()
        wait_ms = max(1, int(self.poll_s * 1000))
        while self.subscribers:
            try:
                changes = await asyncio.to_thread(self.pending.changes_after, after, wait_ms)
                for change_id, approval_id, state in changes:
                    after = change_id
                    await self._apply(approval_id, state)
            except Exception:
                log.exception("approvals feed read failed; retrying")
                await asyncio.sleep(self.poll_s)

    async def _apply(self, approval_id: str, state: str) -> None:
        current = await asyncio.to_thread(self.show, approval_id)
        if current is None:
            return
        if state == "pending":
            if approval_id not in self.known:
                self.known[approval_id] = current
                self._broadcast("approval.new", current)
            return
        self.known.pop(approval_id, None)
        self._broadcast("approval.resolved", current)

    def _broadcast(self, event: str, data: Any) -> None:
        for q in list(self.subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait((event, data))

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
