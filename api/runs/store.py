"""Runs in Redis: each run's meta, its thread's run lock and list of runs, and its events
in a Redis Stream, written behind in batches and replayed to any API process."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aredis

from api.errors import NotFoundError
from api.runs.run import TERMINAL, Run, RunEvent
from ingestion.redis_keys import as_text

log = logging.getLogger("vigil.api.runs")

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


class RunStore:
    def __init__(self, client: aredis.Redis, *, prefix: str, retention_s: int) -> None:
        self.client = client
        self.prefix = prefix
        self.retention_s = retention_s
        self._dirty: set[Run] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._release = client.register_script(_RELEASE)
        self._start = client.register_script(_START)

    # -- keys ------------------------------------------------------------------------------

    def meta_key(self, run_id: str) -> str:
        return f"{self.prefix}:api:run:{run_id}"

    def events_key(self, run_id: str) -> str:
        return f"{self.prefix}:api:run:{run_id}:events"

    def lock_key(self, thread_id: str) -> str:
        return f"{self.prefix}:api:thread:{thread_id}:active"

    def runs_key(self, thread_id: str) -> str:
        return f"{self.prefix}:api:thread:{thread_id}:runs"

    # -- a run's life ------------------------------------------------------------------------

    async def claim(self, meta: dict[str, Any], lock_ttl: int) -> str | None:
        """Take the run's thread lock and record the run; the run id holding the lock
        instead, if another run has it."""
        run_id, thread_id = meta["run_id"], meta["thread_id"]
        holder = await self._start(
            keys=[self.lock_key(thread_id), self.meta_key(run_id), self.runs_key(thread_id)],
            args=[run_id, lock_ttl, json.dumps(meta), self.retention_s, time.time()],
        )
        return None if holder is None else _s(holder)

    async def release(self, thread_id: str, run_id: str) -> None:
        """Give the thread's lock back, if this run still holds it."""
        await self._release(keys=[self.lock_key(thread_id)], args=[run_id])

    async def save_meta(self, run: Run) -> None:
        await self.client.set(self.meta_key(run.run_id), json.dumps(run.meta), ex=self.retention_s)

    def schedule(self, run: Run) -> None:
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
                await self.flush(*runs)
            except Exception:
                log.exception("persisting run events failed; retrying")
                self._dirty |= runs

    async def flush(self, *runs: Run) -> None:
        """Write the runs' events not yet in Redis, now."""
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

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)

    # -- reading -----------------------------------------------------------------------------

    async def meta(self, run_id: str) -> dict[str, Any] | None:
        raw = await self.client.get(self.meta_key(run_id))
        return None if raw is None else dict(json.loads(raw))

    async def run_ids(self, thread_id: str, limit: int) -> list[str]:
        """The thread's latest runs first."""
        ids: list[Any] = await self.client.zrevrange(self.runs_key(thread_id), 0, limit - 1)
        return [_s(i) for i in ids]

    async def events(self, run_id: str, after: int) -> AsyncIterator[RunEvent]:
        """The run's stored events after ``after``, following the stream until its ``end``
        (or until the run's meta says it ended and nothing is left to read)."""
        key, last = self.events_key(run_id), after
        while True:
            got: Any = await self.client.xread({key: f"{last}-0"}, count=500, block=1000)
            if not got:
                meta = await self.meta(run_id)
                if meta is None:
                    raise NotFoundError(f"run {run_id} is unknown or expired")
                if meta["status"] in TERMINAL:
                    final: Any = await self.client.xrevrange(key, count=1)
                    if final and _s(final[0][1].get(b"e")) == "end":
                        # asked for what comes after the end: the end again, so it stops
                        entry_id, fields = final[0]
                        yield RunEvent(int(_s(entry_id).split("-")[0]), "end", _s(fields[b"d"]))
                        return
                    if not await self.client.xlen(key):
                        return
                continue
            for entry_id, fields in got[0][1]:
                last = int(_s(entry_id).split("-")[0])
                ev = RunEvent(last, _s(fields[b"e"]), _s(fields[b"d"]))
                yield ev
                if ev.event == "end":
                    return


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return as_text(value)
