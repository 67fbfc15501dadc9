"""``RedisSaver``: a LangGraph checkpointer on plain Redis commands (Redis 5+, Valkey).

No RediSearch or RedisJSON: strings, hashes, sets, sorted sets, MULTI/EXEC and one
Lua script. Sync and async methods drive the same plans (``plans.py``). With a TTL,
every read or write of a thread refreshes the expiry of everything its latest
checkpoint reads, so state a thread still points to never expires under it; only
idle threads (and superseded checkpoints) age out.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import redis
import redis.asyncio as aredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from redis.exceptions import NoScriptError

from graphs.checkpointer.layout import Layout
from graphs.checkpointer.lua import SCRIPTS
from graphs.checkpointer.plans import Batch, Out, Plan, Plans


class RedisSaver(BaseCheckpointSaver[str]):
    """Checkpoints in Redis under ``prefix``; pass a sync client, an async one, or both."""

    def __init__(
        self,
        client: redis.Redis | None = None,
        aclient: aredis.Redis | None = None,
        *,
        prefix: str = "vigil:cp",
        ttl_s: float | None = None,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if client is None and aclient is None:
            raise ValueError("RedisSaver needs a redis client, an asyncio one, or both")
        self.client = client
        self.aclient = aclient
        self.layout = Layout(prefix)
        self.ttl_ms = int(ttl_s * 1000) if ttl_s else 0
        self.plans = Plans(self.layout, self.serde, self.ttl_ms)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisSaver:
        """Both clients on one URL; connections open on first use, not here."""
        return cls(redis.Redis.from_url(url), aredis.Redis.from_url(url), **kwargs)

    # -- drivers -------------------------------------------------------------------------------

    def _sync(self) -> redis.Redis:
        if self.client is None:
            raise RuntimeError("this RedisSaver has no sync client: use the a* methods")
        return self.client

    def _async(self) -> aredis.Redis:
        if self.aclient is None:
            raise RuntimeError("this RedisSaver has no asyncio client: use the sync methods")
        return self.aclient

    def _exec(self, batch: Batch) -> list[Any]:
        client = self._sync()
        for attempt in (1, 2):
            try:
                if len(batch.cmds) == 1:  # one command is atomic anyway: skip the pipeline
                    return [client.execute_command(*batch.cmds[0])]  # type: ignore[no-untyped-call]
                pipe = client.pipeline(transaction=batch.atomic)
                for cmd in batch.cmds:
                    pipe.execute_command(*cmd)  # type: ignore[no-untyped-call]
                return list(pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
                for script in SCRIPTS:
                    client.script_load(script)
        raise AssertionError("unreachable")

    async def _aexec(self, batch: Batch) -> list[Any]:
        client = self._async()
        for attempt in (1, 2):
            try:
                if len(batch.cmds) == 1:
                    return [await client.execute_command(*batch.cmds[0])]  # type: ignore[no-untyped-call]
                pipe = client.pipeline(transaction=batch.atomic)
                for cmd in batch.cmds:
                    pipe.execute_command(*cmd)
                return list(await pipe.execute())
            except NoScriptError:
                if attempt == 2:
                    raise
                for script in SCRIPTS:
                    await client.script_load(script)
        raise AssertionError("unreachable")

    def _run(self, plan: Plan) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Out):
                    raise TypeError("a result-yielding plan must be iterated")
                step = plan.send(self._exec(step))
        except StopIteration as done:
            return done.value

    async def _arun(self, plan: Plan) -> Any:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Out):
                    raise TypeError("a result-yielding plan must be iterated")
                step = plan.send(await self._aexec(step))
        except StopIteration as done:
            return done.value

    def _iter(self, plan: Plan) -> Iterator[CheckpointTuple]:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Out):
                    yield step.item
                    step = next(plan)
                else:
                    step = plan.send(self._exec(step))
        except StopIteration:
            return

    async def _aiter(self, plan: Plan) -> AsyncIterator[CheckpointTuple]:
        try:
            step = next(plan)
            while True:
                if isinstance(step, Out):
                    yield step.item
                    step = next(plan)
                else:
                    step = plan.send(await self._aexec(step))
        except StopIteration:
            return

    # -- BaseCheckpointSaver: sync ----------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = self._run(self.plans.get_tuple(config))
        return result

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._iter(self.plans.list_tuples(config, filter=filter, before=before, limit=limit))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = self._run(
            self.plans.put(config, checkpoint, metadata, new_versions)
        )
        return result

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self.plans.put_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self.plans.delete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(self.plans.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self.plans.copy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(self.plans.prune(thread_ids, strategy))

    # -- BaseCheckpointSaver: async -------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        result: CheckpointTuple | None = await self._arun(self.plans.get_tuple(config))
        return result

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for item in self._aiter(
            self.plans.list_tuples(config, filter=filter, before=before, limit=limit)
        ):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        result: RunnableConfig = await self._arun(
            self.plans.put(config, checkpoint, metadata, new_versions)
        )
        return result

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._arun(self.plans.put_writes(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self._arun(self.plans.delete_thread(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._arun(self.plans.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._arun(self.plans.copy_thread(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._arun(self.plans.prune(thread_ids, strategy))

    # -- versions ---------------------------------------------------------------------------------

    def get_next_version(self, current: str | int | None, channel: None) -> str:
        """Zero-padded counter plus a random tail: sorts as a string, unique per write.

        Short on purpose: versions appear in every checkpoint, several times.
        """
        n = 0 if current is None else int(str(current).split(".")[0])
        # the tail keeps versions of two forks from one parent apart (their blobs differ)
        return f"{n + 1:012}.{random.getrandbits(32):08x}"
