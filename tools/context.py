"""What tools run with: clients and stores, handed over by the graph's runtime context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ingestion.knowledge.types import Embedder, Retriever
from ingestion.profiles import ProfileStore
from tools.alerts import AlertService
from tools.block import BlockService
from tools.card_history import CardHistory
from tools.card_locations import CardLocationStore
from tools.lake import ParquetLake

Audience = Literal["fraud_agent", "analyst", "chat"]


@dataclass(frozen=True)
class ToolContext:
    profiles: ProfileStore
    cards: CardLocationStore
    retriever: Retriever
    embedder: Embedder
    blocks: BlockService
    alerts: AlertService
    lake: ParquetLake
    history: CardHistory
    audience: Audience = "fraud_agent"
    velocity_max_kmh: float = 1000.0
    velocity_same_place_km: float = 25.0
