"""Clients and stores built from settings, handed down to tools and graphs."""

from __future__ import annotations

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.lance import LanceRetriever
from ingestion.knowledge.types import Embedder, Retriever
from ingestion.producer import Publisher
from ingestion.profiles import RedisProfileStore
from tools.alerts import AlertService
from tools.approvals import ApprovalLedger
from tools.block import AutoPolicy, BlockService
from tools.card_history import CardHistory
from tools.card_locations import CardLocationStore
from tools.context import Audience, ToolContext
from tools.lake import ParquetLake
from tools.once import OnceEmitter
from vigil.errors import VigilError
from vigil.settings import Settings


def _redis_url(settings: Settings) -> str:
    if not settings.redis_url:
        raise VigilError("no Redis configured: set VIGIL_REDIS_URL or run `vigil up`")
    return settings.redis_url


#: every pooled connection is checked (PING) before use when idle this long, and a
#: command that meets a broken connection is retried on a new one (after a Redis restart
#: the pool's old connections are all broken: none of them may fail a request)
_HEALTH_CHECK_S = 5


def redis_client(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        _redis_url(settings),
        health_check_interval=_HEALTH_CHECK_S,
        socket_connect_timeout=2,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def async_redis_client(settings: Settings, max_connections: int = 2000) -> aredis.Redis:
    """The asyncio client, pooled and health-checked like ``redis_client``."""
    return aredis.Redis.from_url(
        _redis_url(settings),
        max_connections=max_connections,
        health_check_interval=_HEALTH_CHECK_S,
        socket_connect_timeout=2,
        retry=AsyncRetry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def retriever(settings: Settings, dim: int = 384) -> Retriever:
    """Weaviate when VIGIL_WEAVIATE_URL is set, else the embedded LanceDB."""
    if settings.weaviate_url:
        from ingestion.knowledge.weaviate_store import WeaviateRetriever, connect

        return WeaviateRetriever(connect(settings.weaviate_url))
    return LanceRetriever(settings.vectors_path, dim=dim)


def tool_context(
    settings: Settings,
    publisher: Publisher,
    *,
    client: redis.Redis | None = None,
    embedder: Embedder | None = None,
    audience: Audience = "fraud_agent",
    knowledge: Retriever | None = None,
) -> ToolContext:
    r = client or redis_client(settings)
    prefix = settings.redis_prefix
    emb = embedder or MiniLMEmbedder(settings.embedder_path)
    emitter = OnceEmitter(r, publisher, prefix=prefix)
    auto = (
        AutoPolicy("risk-threshold", settings.fraud_auto_block_min_risk)
        if settings.fraud_auto_block_min_risk is not None
        else None
    )
    return ToolContext(
        profiles=RedisProfileStore(r, prefix=prefix),
        cards=CardLocationStore.for_service(r, prefix),
        retriever=knowledge or retriever(settings, emb.dim),
        embedder=emb,
        blocks=BlockService(ApprovalLedger.of(settings, r), emitter, auto),
        alerts=AlertService(emitter),
        lake=ParquetLake(settings.lake_path, settings.lake_hash_key.get_secret_value()),
        history=CardHistory.for_service(r, prefix, settings.fraud_card_recent),
        audience=audience,
        velocity_max_kmh=settings.velocity_max_kmh,
        velocity_same_place_km=settings.velocity_same_place_km,
    )
