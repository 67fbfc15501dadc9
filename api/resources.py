"""What the app runs with (clients, stores, checks), built by the service shell (``vigil.api``)
or by a test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio as aredis
from langgraph.checkpoint.base import BaseCheckpointSaver

from graphs.llm import ModelGateway
from ingestion.producer import Publisher
from tools.context import ToolContext

#: a readiness check: returns a one-line detail, raises when the dependency is not usable
Check = Callable[[], str]


@dataclass
class ApiDeps:
    redis: redis.Redis
    aredis: aredis.Redis
    gateway: ModelGateway
    #: the chat graph's tools: audience "chat" (a customer's view of their own profile)
    tools: ToolContext
    checkpointer: BaseCheckpointSaver[Any]
    #: sends analysts' answers to approvals.responses
    publisher: Publisher
    checks: Mapping[str, Check] = field(default_factory=dict)
    close: Callable[[], None] | None = None
    #: what ``vigil agents status`` reports (the replicas' heartbeats and Kafka's view of
    #: each agent's group): the admins' operations page; None: this API has no such view
    operations: Callable[[], dict[str, Any]] | None = None
