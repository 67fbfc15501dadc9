"""What an eval runs against: the servers, the shared knowledge base, the models.

``vigil eval`` builds one from settings on the embedded stack (or the configured
servers); the tests build one on their own Tansu broker and Redis. Every case gets its
own Redis key prefix (``<run prefix>:<case>``), so cases never see each other's state and
one run never sees another's; the prefix is deleted when the case ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from ingestion.knowledge.types import Embedder, Retriever
from ingestion.producer import Publisher
from ingestion.profiles import RedisProfileStore
from ingestion.redis_keys import delete_prefixed
from tools.context import Audience, ToolContext
from vigil.settings import Settings

#: (settings of the case, its publisher, the audience) -> the tools of the case
ToolsFactory = Callable[[Settings, Publisher, Audience], ToolContext]


@dataclass
class EvalEnv:
    settings: Settings
    redis: redis.Redis
    publisher: Publisher
    embedder: Embedder
    retriever: Retriever
    tools: ToolsFactory
    #: model name -> its gateway (``local``, ``openai:...``, or a scripted one in tests)
    gateways: dict[str, Any]
    out_dir: Path
    #: a model that judges chat answers (real models only); None: no judge
    judge: Any = None

    def case_settings(self, case_id: str, overrides: dict[str, Any] | None = None) -> Settings:
        prefix = f"{self.settings.redis_prefix}:{case_id}"
        update: dict[str, Any] = {"redis_prefix": prefix, "checkpoint_prefix": f"{prefix}:cp"}
        update.update(overrides or {})
        return self.settings.model_copy(update=update)

    def clean(self, settings: Settings) -> None:
        """Delete a case's keys."""
        delete_prefixed(self.redis, settings.redis_prefix)

    def profiles(self, settings: Settings) -> RedisProfileStore:
        return RedisProfileStore(self.redis, prefix=settings.redis_prefix)
