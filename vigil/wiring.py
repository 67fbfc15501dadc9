"""Clients and stores built from settings, handed down to tools and graphs."""

from __future__ import annotations

import redis

from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.lance import LanceRetriever
from ingestion.knowledge.types import Embedder, Retriever
from ingestion.producer import Publisher
from ingestion.profiles import RedisProfileStore
from tools.alerts import AlertService
from tools.approvals import ApprovalLedger
from tools.block import AutoPolicy, BlockService
from tools.card_locations import CardLocationStore
from tools.context import Audience, ToolContext
from tools.lake import ParquetLake
from tools.once import OnceEmitter
from vigil.errors import VigilError
from vigil.settings import Settings


def redis_client(settings: Settings) -> redis.Redis:
    if not settings.redis_url:
        raise VigilError("no Redis configured: set VIGIL_REDIS_URL or run `vigil up`")
    return redis.Redis.from_url(settings.redis_url)


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
        cards=CardLocationStore(r, prefix=f"{prefix}:vel"),
        retriever=knowledge or retriever(settings, emb.dim),
        embedder=emb,
        blocks=BlockService(ApprovalLedger(r, prefix=prefix), emitter, auto),
        alerts=AlertService(emitter),
        lake=ParquetLake(settings.lake_path, settings.lake_hash_key.get_secret_value()),
        audience=audience,
        velocity_max_kmh=settings.velocity_max_kmh,
        velocity_same_place_km=settings.velocity_same_place_km,
    )
