"""Every graph gets its checkpointer here, from settings."""

from __future__ import annotations

import redis
import redis.asyncio as aredis
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from graphs.checkpointer.redis_saver import RedisSaver
from graphs.errors import CheckpointerConfigError
from vigil.settings import Settings


def make_checkpointer(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    aclient: aredis.Redis | None = None,
) -> BaseCheckpointSaver[str]:
    """``VIGIL_CHECKPOINTER=redis`` (default, shared by every process) or ``memory``."""
    if settings.checkpointer == "memory":
        return InMemorySaver()
    if client is None and aclient is None:
        if not settings.redis_url:
            raise CheckpointerConfigError(
                "VIGIL_CHECKPOINTER=redis needs a Redis: set VIGIL_REDIS_URL, run `vigil up`, "
                "or set VIGIL_CHECKPOINTER=memory for a throwaway run"
            )
        client = redis.Redis.from_url(settings.redis_url)
        aclient = aredis.Redis.from_url(settings.redis_url)
    return RedisSaver(
        client,
        aclient,
        prefix=settings.checkpoint_prefix,
        ttl_s=settings.checkpoint_ttl_s,
    )
