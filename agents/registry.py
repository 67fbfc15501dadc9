"""The one list of Vigil's agents, and the one way to assemble an agent's worker.

The CLI (``vigil agents run``), the replicas, the demo and the evals all build workers
here. Adding an agent is writing its ``binding(deps)`` (see the README's recipe) and
naming it in :data:`AGENTS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.core import AgentDeps, AgentWorker, Binding
from agents.errors import UnknownAgentError
from agents.fraud import agent as fraud
from agents.maintenance import agent as maintenance
from agents.monitoring import agent as monitoring
from graphs.llm import ModelGateway
from ingestion.producer import EventProducer
from tools.approvals import ApprovalLedger, PendingApprovals
from tools.context import ToolContext
from tools.once import OnceEmitter
from vigil.settings import Settings, Stream

BindingFactory = Callable[[AgentDeps], Binding[Any]]


@dataclass(frozen=True)
class AgentSpec:
    """An agent as the registry knows it, before anything is built."""

    name: str
    binding: BindingFactory
    #: approval ids this agent issues start with this (how answers find their agent); the
    #: binding declares the same prefix, checked when the worker is built
    approval_prefix: str | None = None
    #: the stream its escalations wait on (the binding's stage), for status and metrics
    stage: Stream | None = None


def _index(*specs: AgentSpec) -> dict[str, AgentSpec]:
    return {spec.name: spec for spec in specs}


#: every agent ``vigil agents run --agent all`` runs, by name
AGENTS: dict[str, AgentSpec] = _index(
    AgentSpec(
        "fraud", fraud.binding, approval_prefix=fraud.APPROVAL_PREFIX, stage=fraud.STAGE.stream
    ),
    AgentSpec("maintenance", maintenance.binding, approval_prefix=maintenance.APPROVAL_PREFIX),
    AgentSpec("monitoring", monitoring.binding),
)


def spec(name: str, registry: Mapping[str, AgentSpec] | None = None) -> AgentSpec:
    agents = AGENTS if registry is None else registry
    if name not in agents:
        raise UnknownAgentError(f"no agent {name!r}; agents: {', '.join(agents)}")
    return agents[name]


def select(selection: str, registry: Mapping[str, AgentSpec] | None = None) -> list[str]:
    """``all`` or comma-separated agent names, each checked."""
    agents = AGENTS if registry is None else registry
    names = list(agents) if selection == "all" else [a.strip() for a in selection.split(",")]
    unknown = [n for n in names if n not in agents]
    if unknown:
        named = ", ".join(map(repr, unknown))
        raise UnknownAgentError(f"no agent {named}; agents: {', '.join(agents)}, all")
    return names


def approval_prefixes(specs: Iterable[AgentSpec] | None = None) -> frozenset[str]:
    """The approval-id prefixes of every registered agent: an answer with none of them is
    nobody's, and exactly one agent dead-letters it."""
    chosen = AGENTS.values() if specs is None else specs
    return frozenset(s.approval_prefix for s in chosen if s.approval_prefix is not None)


def build_worker(
    settings: Settings,
    agent: str | AgentSpec,
    *,
    redis: Any,
    producer: EventProducer,
    gateway: ModelGateway,
    checkpointer: Any,
    tools: ToolContext,
    emitter: OnceEmitter | None = None,
    on_binding: Callable[[Binding[Any]], Binding[Any]] | None = None,
) -> AgentWorker:
    """An agent's worker from its clients: the binding, its approvals store and ledger.

    ``on_binding`` may wrap the built binding (the evals record escalations with it).
    """
    chosen = spec(agent) if isinstance(agent, str) else agent
    deps = AgentDeps(
        settings=settings,
        redis=redis,
        producer=producer,
        gateway=gateway,
        emitter=emitter or OnceEmitter(redis, producer, prefix=settings.redis_prefix),
        checkpointer=checkpointer,
        tools=tools,
    )
    binding = chosen.binding(deps)
    if binding.approval_prefix != chosen.approval_prefix:
        raise UnknownAgentError(
            f"agent {chosen.name!r}: its binding issues approval ids {binding.approval_prefix!r} "
            f"but the registry names {chosen.approval_prefix!r}"
        )
    stage = None if binding.stage is None else binding.stage.stream
    if stage != chosen.stage:
        raise UnknownAgentError(
            f"agent {chosen.name!r}: its binding hands escalations to {stage} but the registry "
            f"names {chosen.stage}"
        )
    if on_binding is not None:
        binding = on_binding(binding)
    return AgentWorker(
        settings,
        binding,
        pending=PendingApprovals.of(settings, redis),
        ledger=ApprovalLedger.of(settings, redis),
        producer=producer,
        known_prefixes=approval_prefixes() | approval_prefixes([chosen]),
    )
