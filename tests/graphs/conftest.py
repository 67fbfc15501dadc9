"""Checkpointer fixtures: every test runs on Redis 7 (127.0.0.1:6379) and on Valkey 9."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.conftest import LOCAL_REDIS
from vigil.runtime.stack import redis_ping


@pytest.fixture(params=["redis", "valkey"])
def server_url(request: pytest.FixtureRequest) -> str:
    """Both servers Vigil must work on: the machine's Redis and the embedded Valkey."""
    if request.param == "redis":
        if not redis_ping(LOCAL_REDIS, timeout=0.5):
            pytest.skip("no Redis on 127.0.0.1:6379 (the Valkey run still covers the saver)")
        return LOCAL_REDIS
    url: str = request.getfixturevalue("embedded_valkey_url")
    return url


@pytest.fixture
def cp_prefix(server_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:cp:{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(server_url)
    keys = list(client.scan_iter(match=prefix + ":*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def keys_under(url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(url)
    try:
        return list(client.scan_iter(match=prefix + ":*", count=1000))
    finally:
        client.close()
