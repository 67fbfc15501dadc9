"""Runs: a graph run in a task, its events numbered, kept in Redis, fanned out to clients.

Every event of a run gets the next sequence number, which is its SSE ``id``. Events go to
the clients attached in this process at once, and to a Redis Stream (entry id
``<seq>-0``) in batches, kept ``retention_s`` after the run ends. A client that
reconnects with ``Last-Event-ID: n`` gets every event after ``n``: from this process's
memory while the run lives here, else from the Redis Stream (so any API process can serve
a reconnect, and a finished run can be replayed until it expires).

A thread runs one run at a time (a Redis lock, refused with 409). When the last client of
a run whose ``on_disconnect`` is ``cancel`` goes away, the run is cancelled after
``grace_s`` unless a client comes back: cancelling the task cancels the graph, subgraphs
included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import redis.asyncio as aredis

from api.errors import ConflictError, NotFoundError
from api.jsonable import jsonable
from api.logs import run_id_var
from api.metrics import ApiMetrics
from ingestion.redis_keys import as_text

log = logging.getLogger("vigil.api.runs")

OnDisconnect = Literal["cancel", "continue"]
TERMINAL = frozenset({"success", "error", "cancelled", "interrupted", "timeout"})
EventSource = AsyncIterator[tuple[str, Any]]
#: how long events may wait in memory before their batch goes to Redis
FLUSH_EVERY_S = 0.02

#: take the thread's run lock and record the run (its meta, its place in the thread's list)
#: in one round trip; a held lock returns its holder
_START = """
if not redis.call("SET", KEYS[1], ARGV[1], "NX", "EX", ARGV[2]) then
  return redis.call("GET", KEYS[1])
end
redis.call("SET", KEYS[2], ARGV[3], "EX", ARGV[4])
redis.call("ZADD", KEYS[3], ARGV[5], ARGV[1])
redis.call("EXPIRE", KEYS[3], ARGV[4])
return false
"""

_RELEASE = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
"""


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
        self.client = client
        self.prefix = prefix
        self.retention_s = retention_s
        self.grace_s = grace_s
        self.timeout_s = timeout_s
        self.metrics = metrics
        self.local: dict[str, Run] = {}
        self._dirty: set[Run] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._release = client.register_script(_RELEASE)
        self._start = client.register_script(_START)

    def busy(self) -> bool:
        """Is a run of this process still going? (Safe to ask from another thread.)"""
        return any(not run.done.is_set() for run in list(self.local.values()))

    # -- keys ------------------------------------------------------------------------------

    def meta_key(self, run_id: str) -> str:
        return f"{self.prefix}:api:run:{run_id}"

    def events_key(self, run_id: str) -> str:
        return f"{self.prefix}:api:run:{run_id}:events"

    def lock_key(self, thread_id: str) -> str:
        return f"{self.prefix}:api:thread:{thread_id}:active"

    def runs_key(self, thread_id: str) -> str:
        return f"{self.prefix}:api:thread:{thread_id}:runs"

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
        holder = await self._start(
            keys=[self.lock_key(thread_id), self.meta_key(run_id), self.runs_key(thread_id)],
            args=[run_id, lock_ttl, json.dumps(meta), self.retention_s, time.time()],
        )
        if holder is not None:
            raise ConflictError(
                f"thread {thread_id} is busy: run {_s(holder)} is in progress; wait for it "
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
        self._schedule_flush(run)
        status = "success"
        try:
            async with asyncio.timeout(self.timeout_s):
                async for name, data in events:
                    if name == "status":  # the body tells how the run ended (interrupted)
                        status = str(data)
                        continue
                    run.append(name, data)
                    self._schedule_flush(run)
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
            await self._flush(run)
            await self._save_meta(run)
            if run.on_end is not None:
                await run.on_end(run)
        finally:
            await self._release(keys=[self.lock_key(run.meta["thread_id"])], args=[run.run_id])
            run.done.set()
            # late reconnects read Redis; keep the live copy a little for clients mid-read
            asyncio.get_running_loop().call_later(30, self.local.pop, run.run_id, None)

    async def _save_meta(self, run: Run) -> None:
        await self.client.set(self.meta_key(run.run_id), json.dumps(run.meta), ex=self.retention_s)

    def _schedule_flush(self, run: Run) -> None:
        """Persist soon, in a batch: clients of this process read memory, so Redis only
        needs the events by the time a client could reconnect elsewhere. One flusher a
        process writes every run's new events in one pipeline a tick."""
        self._dirty.add(run)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop(), name="run-events-flusher")

    async def _flush_loop(self) -> None:
        while self._dirty:
            await asyncio.sleep(FLUSH_EVERY_S)
            runs, self._dirty = self._dirty, set()
            try:
                await self._flush(*runs)
            except Exception:
                log.exception("persisting run events failed; retrying")
                self._dirty |= runs

    async def _flush(self, *runs: Run) -> None:
        async with self._flush_lock:
            pending = [(run, run.events[run.persisted :]) for run in runs]
            pending = [(run, batch) for run, batch in pending if batch]
            if not pending:
                return
            async with self.client.pipeline(transaction=False) as pipe:
                for run, batch in pending:
                    key = self.events_key(run.run_id)
                    for ev in batch:
                        pipe.xadd(key, {"e": ev.event, "d": ev.payload}, id=f"{ev.seq}-0")
                    pipe.expire(key, self.retention_s)
                await pipe.execute()
            for run, batch in pending:
                run.persisted += len(batch)

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
        raw = await self.client.get(self.meta_key(run_id))
        return None if raw is None else dict(json.loads(raw))

    async def thread_runs(self, thread_id: str, limit: int = 10) -> list[dict[str, Any]]:
        ids: list[Any] = await self.client.zrevrange(self.runs_key(thread_id), 0, limit - 1)
        found = [await self.meta(_s(i)) for i in ids]
        return [m for m in found if m is not None]

    async def events(self, run_id: str, after: int = 0) -> AsyncIterator[list[RunEvent]]:
        """Every event after ``after``, live until the run's ``end``, in batches: what
        arrived since the client last woke goes out together."""
        run = self.local.get(run_id)
        if run is None:
            async for ev in self._stored(run_id, after):
                yield [ev]
            return
        run.clients += 1
        self._disarm(run)
        try:
            i = after
            while True:
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

    async def _stored(self, run_id: str, after: int) -> AsyncIterator[RunEvent]:
        key, last = self.events_key(run_id), after
        while True:
            got: Any = await self.client.xread({key: f"{last}-0"}, count=500, block=1000)
            if not got:
                meta = await self.meta(run_id)
                if meta is None:
                    raise NotFoundError(f"run {run_id} is unknown or expired")
                if meta["status"] in TERMINAL and not await self.client.xlen(key):
                    return
                continue
            for entry_id, fields in got[0][1]:
                last = int(_s(entry_id).split("-")[0])
                ev = RunEvent(last, _s(fields[b"e"]), _s(fields[b"d"]))
                yield ev
                if ev.event == "end":
                    return

    async def wait(self, run_id: str) -> dict[str, Any]:
        """Block until the run ends; its final meta."""
        run = self.local.get(run_id)
        if run is not None:
            await run.done.wait()
            return run.meta
        async for _ev in self._stored(run_id, 0):
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
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return as_text(value)
