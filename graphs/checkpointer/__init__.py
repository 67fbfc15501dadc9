"""Durable graph state on plain Redis, shared by every Vigil process."""

from graphs.checkpointer.factory import make_checkpointer
from graphs.checkpointer.redis_saver import RedisSaver

__all__ = ["RedisSaver", "make_checkpointer"]
