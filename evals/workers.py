"""The agents as ``vigil agents run`` builds them, for eval cases and stream replays.

Each worker gets its binding, the shared worker machinery and the Redis checkpointer on
the settings' own Redis prefix; ``on_escalate`` hears every subject that screening sends
on to the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from agents.core import AgentDeps, AgentWorker, Binding, Screening
from agents.fraud import agent as fraud_agent
from agents.maintenance import agent as maintenance_agent
from agents.monitoring import agent as monitoring_agent
from evals.env import EvalEnv
from graphs.checkpointer import RedisSaver
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.context import ToolContext
from tools.once import OnceEmitter
from vigil.settings import Settings

BINDINGS: dict[str, Callable[[AgentDeps], Binding[Any]]] = {
    "fraud": fraud_agent.binding,
    "maintenance": maintenance_agent.binding,
    "monitoring": monitoring_agent.binding,
}


def agent_worker(
    env: EvalEnv,
    agent: str,
    settings: Settings,
    publisher: Any,
    tools: ToolContext,
    gateway: Any,
    on_escalate: Callable[[str], None] | None = None,
) -> AgentWorker:
    """The agent as ``vigil agents run`` builds it, on ``settings``' Redis prefix."""
    deps = AgentDeps(
        settings=settings,
        redis=env.redis,
        producer=publisher,
        gateway=gateway,
        emitter=OnceEmitter(env.redis, publisher, prefix=settings.redis_prefix),
        checkpointer=RedisSaver(env.redis, prefix=settings.checkpoint_prefix),
        tools=tools,
    )
    binding = BINDINGS[agent](deps)
    if on_escalate is not None:
        screen_batch = binding.screen

        def screen(batch: Sequence[Any]) -> Screening:
            out = screen_batch(batch)
            for e in out.escalate:
                on_escalate(e.subject)
            return out

        binding = replace(binding, screen=screen)
    return AgentWorker(
        settings,
        binding,
        pending=PendingApprovals(env.redis, prefix=settings.redis_prefix),
        ledger=ApprovalLedger(env.redis, prefix=settings.redis_prefix),
        producer=publisher,
    )
