"""What the maintenance graph runs with (its ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphs.llm import ModelGateway
from tools.context import ToolContext
from tools.once import OnceEmitter


@dataclass(frozen=True)
class MaintenanceContext:
    tools: ToolContext
    gateway: ModelGateway
    emitter: OnceEmitter
    #: ``agents.maintenance.history.MaintenanceHistory`` (kept loose: graphs do not import agents)
    history: Any
    stop_rul_h: float = 12.0
    approval_timeout_s: float = 1800.0
