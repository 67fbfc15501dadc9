"""The agents as ``vigil agents run`` builds them (``agents.registry.build_worker``), for eval
cases and stream replays: on the settings' own Redis prefix, with the case's recording
publisher and tools, and ``on_escalate`` hearing every subject screening sends on."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from agents.core import AgentWorker, Binding, Screening
from agents.registry import build_worker
from evals.env import EvalEnv
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelGateway
from tools.context import ToolContext
from vigil.settings import Settings


def agent_worker(
    env: EvalEnv,
    agent: str,
    settings: Settings,
    publisher: Any,
    tools: ToolContext,
    gateway: ModelGateway,
    on_escalate: Callable[[str], None] | None = None,
    inline: bool = False,
) -> AgentWorker:
    """The agent as ``vigil agents run`` builds it, on ``settings``' Redis prefix. With
    ``inline`` its escalations run inside ``handle`` (a case fed in-process has no stage
    consumer; what is scored is the graphs' decisions, the stage is their transport)."""

    def listen(binding: Binding[Any]) -> Binding[Any]:
        if inline:
            binding = replace(binding, stage=None)
        if on_escalate is None:
            return binding
        screen_batch = binding.screen

        def screen(batch: Sequence[Any]) -> Iterator[Screening]:
            out = screen_batch(batch)
            for part in [out] if isinstance(out, Screening) else out:
                for e in part.escalate:
                    on_escalate(e.subject)
                yield part

        return replace(binding, screen=screen)

    return build_worker(
        settings,
        agent,
        redis=env.redis,
        producer=publisher,
        gateway=gateway,
        checkpointer=RedisSaver(env.redis, prefix=settings.checkpoint_prefix),
        tools=tools,
        on_binding=listen,
    )
