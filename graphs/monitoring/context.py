"""What the monitoring graph runs with (its ``context_schema``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graphs.llm import ModelGateway
from tools.context import ToolContext
from tools.once import OnceEmitter


@dataclass(frozen=True)
class MonitoringContext:
    tools: ToolContext
    gateway: ModelGateway
    emitter: OnceEmitter
    #: site -> ids of the assets seen there
    assets_at: Callable[[str], list[str]]
