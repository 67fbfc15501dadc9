"""The official langgraph-checkpoint-conformance suite against RedisSaver on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import redis
import redis.asyncio as aredis
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from graphs.checkpointer import RedisSaver


def test_redis_saver_passes_every_conformance_test(server_url: str, cp_prefix: str) -> None:
    clients: list[aredis.Redis] = []

    @checkpointer_test(name=f"RedisSaver[{server_url}]")
    async def factory() -> AsyncGenerator[RedisSaver, None]:
        aclient = aredis.Redis.from_url(server_url)
        clients.append(aclient)
        yield RedisSaver(redis.Redis.from_url(server_url), aclient, prefix=cp_prefix)

    async def run() -> object:
        try:
            return await validate(factory)
        finally:
            for c in clients:
                await c.aclose()

    report = asyncio.run(run())
    results = report.results  # type: ignore[attr-defined]
    failures = {
        cap: r.failures for cap, r in results.items() if r.detected and r.passed is not True
    }
    assert not failures, failures
    # every capability, the optional ones included, was detected and exercised
    assert {cap for cap, r in results.items() if r.detected} == {c.value for c in ALL_CAPABILITIES}
    assert all(r.tests_passed > 0 for r in results.values())
    assert report.conformance_level() == "FULL"  # type: ignore[attr-defined]
