"""What the maintenance graph runs with (its ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graphs.llm import ModelGateway
from ingestion.contracts import MaintenanceLog
from tools.context import ToolContext
from tools.once import OnceEmitter


class AssetHistory(Protocol):
    """An asset's maintenance log (``agents.maintenance.history.MaintenanceHistory``)."""

    def recent(self, asset_id: str, n: int = 10) -> list[MaintenanceLog]: ...


@dataclass(frozen=True)
class MaintenanceContext:
    tools: ToolContext
    gateway: ModelGateway
    emitter: OnceEmitter
    history: AssetHistory
    stop_rul_h: float = 12.0
    approval_timeout_s: float = 1800.0
