"""The monitoring agent's binding: outside signals -> severity screen -> alert graph.

A signal at or above ``monitoring_min_severity`` runs the graph under thread
``monitoring:<signal id>``: a repeat of the signal (same id) finds the finished thread
and does nothing, and every alert is keyed by (signal, recipient), so each affected
customer hears about an event once.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.core import AgentDeps, Binding, Escalation, Screening
from agents.maintenance.features import FeatureStore
from graphs.monitoring.context import MonitoringContext
from graphs.monitoring.graph import build_graph
from graphs.monitoring.state import MonitoringState
from ingestion.contracts import SEVERITY_RANK, MonitoringSignal
from ingestion.redis_keys import as_text
from vigil.settings import Stream

NAME = "monitoring"


def binding(deps: AgentDeps) -> Binding[MonitoringSignal, MonitoringState, MonitoringContext]:
    s = deps.settings
    least = SEVERITY_RANK[s.monitoring_min_severity]
    sites = FeatureStore(deps.redis, s)

    def assets_at(site: str) -> list[str]:
        return sorted(as_text(m) for m in deps.redis.smembers(sites.site_key(site)))

    def screen(signals: Sequence[MonitoringSignal]) -> Screening[MonitoringState]:
        return Screening(
            escalate=[
                Escalation(subject=sig.signal_id, start={"signal": sig.model_dump(mode="json")})
                for sig in signals
                if SEVERITY_RANK[sig.severity] >= least
            ]
        )

    return Binding(
        name=NAME,
        input=Stream.MONITORING_SIGNALS,
        model=MonitoringSignal,
        screen=screen,
        graph=build_graph(deps.checkpointer),
        context=MonitoringContext(
            tools=deps.tools, gateway=deps.gateway, emitter=deps.emitter, assets_at=assets_at
        ),
        outputs=(Stream.ALERTS,),
    )
