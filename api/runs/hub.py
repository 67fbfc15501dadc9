"""The runs of this process: started under their thread's lock, driven in a task, their
events fanned out to attached clients, cancelled when every client has gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aredis

from api.errors import ConflictError, NotFoundError
from api.logs import run_id_var
from api.metrics import ApiMetrics
from api.runs.run import TERMINAL, EventSource, OnDisconnect, Run, RunEvent, now_iso
from api.runs.store import RunStore

log = logging.getLogger("vigil.api.runs")


class RunHub:
    def __init__(
        self,
        client: aredis.Redis,
        *,
        prefix: str,
        retention_s: int,
        grace_s: float,
        timeout_s: float,
        metrics: ApiMetrics,
    ) -> None:
        self.store = RunStore(client, prefix=prefix, retention_s=retention_s)
        self.grace_s = grace_s
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.local: dict[str, Run] = {}

    def busy(self) -> bool:
        """Is a run of this process still going? (Safe to ask from another thread.)"""
        return any(not run.done.is_set() for run in list(self.local.values()))

    # -- starting and driving ---------------------------------------------------------------

    async def start(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        owner: str,
        body: Callable[[Run], EventSource],
        on_disconnect: OnDisconnect = "cancel",
        metadata: dict[str, Any] | None = None,
        on_end: Callable[[Run], Awaitable[None]] | None = None,
    ) -> Run:
        """Start a run. With ``on_disconnect="cancel"`` a client must attach (``events``)
        within the grace period, and the run ends when every client has gone."""
        run_id = str(uuid.uuid4())
        lock_ttl = int(self.timeout_s + self.grace_s) + 30
        stamp = now_iso()
        meta: dict[str, Any] = {
            "run_id": run_id,
            "thread_id": thread_id,
            "assistant_id": assistant_id,
            "owner": owner,
            "status": "running",
            "created_at": stamp,
            "updated_at": stamp,
            "metadata": metadata or {},
            "on_disconnect": on_disconnect,
        }
        holder = await self.store.claim(meta, lock_ttl)
        if holder is not None:
            raise ConflictError(
                f"thread {thread_id} is busy: run {holder} is in progress; wait for it "
                "to end or cancel it"
            )
        run = Run(meta, on_disconnect)
        run.on_end = on_end
        self.local[run_id] = run
        run.task = asyncio.create_task(self._drive(run, body(run)), name=f"run-{run_id}")
        self.metrics.runs_started.labels(assistant_id).inc()
        if on_disconnect == "cancel":
            self._arm(run)
        return run

    async def _drive(self, run: Run, events: EventSource) -> None:
        run_id_var.set(run.run_id)
        run.append("metadata", {"run_id": run.run_id, "thread_id": run.meta["thread_id"]})
        self.metrics.first_event.observe(time.perf_counter() - run.started)
        self.store.schedule(run)
        status = "success"
        try:
            async with asyncio.timeout(self.timeout_s):
                async for name, data in events:
                    if name == "status":  # the body tells how the run ended (interrupted)
                        status = str(data)
                        continue
                    run.append(name, data)
                    self.store.schedule(run)
        except asyncio.CancelledError:
            status = "cancelled"
            log.info("run cancelled", extra={"thread_id": run.meta["thread_id"]})
        except TimeoutError:
            status = "timeout"
            limit = f"the run took longer than {self.timeout_s:g} s"
            run.append("error", {"error": "RunTimeout", "message": limit})
        except Exception as exc:
            status = "error"
            log.exception("run failed")
            run.append("error", {"error": type(exc).__name__, "message": str(exc)})
        finally:
            await self._finish(run, status)

    async def _finish(self, run: Run, status: str) -> None:
        run.meta["status"] = status
        run.meta["updated_at"] = now_iso()
        self.metrics.runs_ended.labels(run.meta["assistant_id"], status).inc()
        run.append("end", {"run_id": run.run_id, "status": status})
        if run.cancel_timer is not None:
            run.cancel_timer.cancel()
        try:
            await self.store.flush(run)
            await self.store.save_meta(run)
            if run.on_end is not None:
                await run.on_end(run)
        finally:
            await self.store.release(run.meta["thread_id"], run.run_id)
            run.done.set()
            # late reconnects read Redis; keep the live copy a little for clients mid-read
            asyncio.get_running_loop().call_later(30, self.local.pop, run.run_id, None)

    # -- disconnects -------------------------------------------------------------------------

    def _arm(self, run: Run) -> None:
        """Cancel the run after the grace period, unless a client attaches first."""
        if run.cancel_timer is None and not run.done.is_set():
            run.cancel_timer = asyncio.get_running_loop().call_later(
                self.grace_s, self._abandoned, run
            )

    def _abandoned(self, run: Run) -> None:
        run.cancel_timer = None
        if run.clients == 0 and run.task is not None and not run.done.is_set():
            log.info("every client left: cancelling", extra={"run": run.run_id})
            run.task.cancel()

    def _disarm(self, run: Run) -> None:
        if run.cancel_timer is not None:
            run.cancel_timer.cancel()
            run.cancel_timer = None

    # -- reading -----------------------------------------------------------------------------

    async def meta(self, run_id: str) -> dict[str, Any] | None:
        run = self.local.get(run_id)
        if run is not None:
            return run.meta
        return await self.store.meta(run_id)

    async def thread_runs(self, thread_id: str, limit: int = 10) -> list[dict[str, Any]]:
        found = [await self.meta(i) for i in await self.store.run_ids(thread_id, limit)]
        return [m for m in found if m is not None]

    async def events(self, run_id: str, after: int = 0) -> AsyncIterator[list[RunEvent]]:
        """Every event after ``after``, live until the run's ``end``, in batches: what
        arrived since the client last woke goes out together."""
        run = self.local.get(run_id)
        if run is None:
            async for ev in self.store.events(run_id, after):
                yield [ev]
            return
        run.clients += 1
        self._disarm(run)
        try:
            i = after
            while True:
                if run.events and run.events[-1].event == "end" and i >= len(run.events):
                    yield [run.events[-1]]  # at or past the end: the end again, so it stops
                    return
                wake = run.wake
                if i < len(run.events):
                    batch = run.events[i:]
                    i += len(batch)
                    yield batch
                    if batch[-1].event == "end":
                        return
                    continue
                await wake.wait()
        finally:
            run.clients -= 1
            if run.clients == 0 and run.on_disconnect == "cancel" and not run.done.is_set():
                self._arm(run)

    async def wait(self, run_id: str) -> dict[str, Any]:
        """Block until the run ends; its final meta."""
        run = self.local.get(run_id)
        if run is not None:
            await run.done.wait()
            return run.meta
        async for _ev in self.store.events(run_id, 0):
            pass
        meta = await self.meta(run_id)
        if meta is None:
            raise NotFoundError(f"run {run_id} is unknown or expired")
        return meta

    async def cancel(self, run_id: str) -> dict[str, Any]:
        run = self.local.get(run_id)
        if run is None:
            meta = await self.meta(run_id)
            if meta is None:
                raise NotFoundError(f"run {run_id} is unknown or expired")
            if meta["status"] not in TERMINAL:
                raise ConflictError(
                    f"run {run_id} is served by another API process; cancel it there"
                )
            return meta
        if run.task is not None and not run.done.is_set():
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.done.wait()
        return run.meta

    async def close(self) -> None:
        """Cancel what still runs here (shutdown)."""
        tasks = [r.task for r in self.local.values() if r.task and not r.done.is_set()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.store.close()
