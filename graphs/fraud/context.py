"""What the fraud graph runs with (the graph's ``context_schema``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from graphs.llm import ModelGateway
from tools.context import ToolContext
from tools.once import OnceEmitter


@dataclass(frozen=True)
class FraudContext:
    tools: ToolContext
    gateway: ModelGateway
    emitter: OnceEmitter
    block_min_risk: float = 0.8
    approval_timeout_s: float = 1800.0
    fail_safe: Literal["hold_and_escalate", "release"] = "hold_and_escalate"
    #: every model down: wait for one (True), or let the rules decide without it
    wait_for_model: bool = True
    #: the speed past which travel is impossible (screening's limit: the analyst's case)
    max_kmh: float = 1000.0
