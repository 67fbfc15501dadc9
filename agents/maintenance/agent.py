"""The maintenance agent's binding: sensor readings -> detector -> the maintenance graph.

Screening records every reading in the asset's rolling features and judges it; the
first reading that finds an asset degrading within the life horizon opens the asset's
episode and escalates to the graph under thread ``maintenance:wo-<asset>-<reading>``.
Further readings while the episode is open add nothing; a repair or replacement logged
on ``maintenance.logs`` closes it.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.core import (
    AgentDeps,
    Binding,
    Escalation,
    Screening,
    SideInput,
)
from agents.maintenance.features import FeatureStore, Verdict
from agents.maintenance.history import MaintenanceHistory, history_ingestor
from graphs.maintenance.context import MaintenanceContext
from graphs.maintenance.graph import build_graph
from graphs.maintenance.nodes import APPROVAL_PREFIX as APPROVAL_PREFIX
from graphs.maintenance.state import MaintenanceState
from ingestion.contracts import MaintenanceLog, SensorReading, derived_id
from vigil.settings import Stream

NAME = "maintenance"


def escalation(v: Verdict) -> Escalation[MaintenanceState]:
    r = v.reading
    wo_id = derived_id("wo-", r.asset_id, "-", r.event_id)
    failure = v.predicted_failure_at
    return Escalation(
        subject=wo_id,
        start={
            "detection": {
                "work_order_id": wo_id,
                "asset_id": r.asset_id,
                "asset_type": r.asset_type,
                "site": r.site,
                "event_id": r.event_id,
                "detected_at": r.timestamp.isoformat(),
                "reasons": v.reasons,
                "metrics": [m.as_dict() for m in v.metrics],
                "rul_h": None if v.rul_h is None else round(v.rul_h, 2),
                "predicted_failure_at": None if failure is None else failure.isoformat(),
            }
        },
    )


def binding(deps: AgentDeps) -> Binding[SensorReading, MaintenanceState, MaintenanceContext]:
    s = deps.settings
    features = FeatureStore(deps.redis, s)
    history = MaintenanceHistory(deps.redis, prefix=s.redis_prefix)

    def screen(readings: Sequence[SensorReading]) -> Screening[MaintenanceState]:
        out: Screening[MaintenanceState] = Screening()
        for v in features.judge(readings):
            due = v.rul_h is not None and v.rul_h <= s.maintenance_rul_horizon_h
            if (
                v.degrading
                and due
                and features.open_episode(v.reading.asset_id, v.reading.event_id)
            ):
                out.escalate.append(escalation(v))
        return out

    return Binding(
        name=NAME,
        input=Stream.SENSOR_READINGS,
        model=SensorReading,
        screen=screen,
        graph=build_graph(deps.checkpointer),
        context=MaintenanceContext(
            tools=deps.tools,
            gateway=deps.gateway,
            emitter=deps.emitter,
            history=history,
            stop_rul_h=s.maintenance_stop_rul_h,
            approval_timeout_s=s.approval_timeout_s,
        ),
        approval_prefix=APPROVAL_PREFIX,
        side_inputs=(
            SideInput(
                Stream.MAINTENANCE_LOGS,
                MaintenanceLog,
                history_ingestor(history, features.close_episode),
            ),
        ),
        outputs=(Stream.WORK_ORDERS, Stream.APPROVAL_REQUESTS, Stream.ALERTS),
    )
