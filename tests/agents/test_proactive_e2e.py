"""The proactive agents end to end on real servers (Tansu, Redis), with scripted models."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis

from agents.maintenance.features import FeatureStore
from agents.maintenance.history import MaintenanceHistory
from agents.service import AgentService
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import Alert, ApprovalResponse, SensorReading, WorkOrder
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers
from ingestion.simulator import SCENARIOS, Simulator
from tests.agents.helpers import read_events, seed_knowledge
from tests.conftest import wait_for
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent

DRAFT = json.dumps(
    {"priority": "high", "action": "Replace the drive-end bearing of pump-03 and check alignment.",
     "parts": ["BK-6309"], "window_hours": 8, "duration_hours": 4, "stop_asset": False,
     "rationale": "Vibration and bearing temperature rise together: bearing wear per the manual."}
)  # fmt: skip
ALERT = json.dumps(
    {"title": "Storm warning for London",
     "body": "A severe storm is expected. Card terminals may be offline: carry another way to "
             "pay. We never ask for your PIN."}
)  # fmt: skip
START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass
class World:
    settings: Settings
    maintenance: AgentService
    monitoring: AgentService
    models: dict[str, ScriptedChatModel]
    producer: EventProducer
    customers: dict[str, str]  # id -> home city

    def topic(self, stream: Stream, expect: int, model: Any, timeout: float = 20) -> list[Any]:
        return read_events(self.settings, stream, expect, model, timeout)


@pytest.fixture
def world(
    settings: Settings,
    redis_client: tuple[Any, str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[World]:
    client, prefix = redis_client
    marker = request.node.get_closest_marker("script")
    s = settings.model_copy(
        update={
            "redis_prefix": prefix.rstrip(":"), "checkpoint_prefix": prefix + "cp",
            "data_dir": tmp_path, **(marker.kwargs if marker else {}),
        }
    )  # fmt: skip
    producer = EventProducer(s)
    models = {"maintenance": ScriptedChatModel(script=[DRAFT] * 3),
              "monitoring": ScriptedChatModel(script=[ALERT] * 3)}  # fmt: skip
    services = {
        name: agent(
            name,
            s,
            producer,
            client=client,
            embedder=EMBEDDER,
            gateway=ModelGateway([ModelEntry("scripted", m, structured="json")], backoff_s=0.01),
            checkpointer=RedisSaver(client, prefix=prefix + "cp"),
        )
        for name, m in models.items()
    }
    tools = services["monitoring"].worker.ctx.tools
    people = seed_customers(20)
    tools.profiles.apply(people)
    seed_knowledge(tools.retriever, client, s.redis_prefix, kbs={"policies", "manuals"})
    for service in services.values():
        service.sweep_every_s = 0.2
        service.start()
    homes = {p.customer_id: p.profile.home_city for p in people if p.profile}
    try:
        yield World(s, services["maintenance"], services["monitoring"], models, producer,
                    {k: v for k, v in homes.items() if v})  # fmt: skip
    finally:
        for service in services.values():
            service.stop()
        producer.close()


def pump_run() -> tuple[list[Any], list[SensorReading], datetime]:
    sim = Simulator(seed=7, customers=5, start=START)
    logs = sim.maintenance_history()
    readings, failure_at = sim.asset_run()
    return logs, readings, failure_at


def test_the_degrading_pump_gets_one_work_order_before_it_fails(world: World) -> None:
    logs, readings, failure_at = pump_run()
    world.producer.publish(logs)
    # two topics, two runners: nothing orders them, so the history must be in before the
    # readings if the draft is to see it (in production a late log only enriches later drafts)
    client = redis.Redis.from_url(world.settings.redis_url or "")
    history = MaintenanceHistory(client, prefix=world.settings.redis_prefix)
    pump_logs = sum(log.asset_id == "pump-03" for log in logs)
    wait_for(lambda: len(history.recent("pump-03", 100)) == pump_logs, 60, "pump-03's history")
    world.producer.publish(readings)
    m = world.maintenance.worker.metrics
    wait_for(lambda: m.screened == len(readings), 120, "every reading screened")
    wait_for(lambda: sum(m.outcomes.values()) == 1, 60, "the work order")
    [order] = world.topic(Stream.WORK_ORDERS, 1, WorkOrder)
    assert order.asset_id == "pump-03"  # the healthy assets raised nothing
    assert order.detected_at is not None
    assert order.detected_at < failure_at
    assert order.predicted_failure_at is not None
    assert abs((order.predicted_failure_at - failure_at).total_seconds()) < 24 * 3600
    assert order.remaining_useful_life_h is not None
    assert order.remaining_useful_life_h > 0
    assert (order.priority, order.parts, order.decided_by) == ("high", ["BK-6309"], "graph")
    assert order.window_end is not None
    assert order.window_end <= order.predicted_failure_at
    assert not order.stops_asset
    assert order.source_event_ids
    assert order.source_event_ids[0] in {r.event_id for r in readings}
    # the model saw the manual and the history
    prompt = str(world.models["maintenance"].calls[0])
    assert "BK-6309" in prompt
    assert "lubrication" in prompt
    # nothing more comes: the episode stays open until a repair is logged
    time.sleep(1.0)
    assert len(world.topic(Stream.WORK_ORDERS, 2, WorkOrder, timeout=2)) == 1
    assert m.escalated == 1
    # the rolling features of every metric are in Redis, pressure and rpm included
    store = FeatureStore(redis.Redis.from_url(world.settings.redis_url or ""), world.settings)
    healthy = store.features("pump-01")
    assert healthy is not None
    assert healthy["degrading"] is False
    by_metric = {f["metric"]: f for f in healthy["metrics"]}
    assert set(by_metric) == {"vibration_mm_s", "bearing_temp_c", "discharge_pressure_bar", "rpm"}
    assert abs(by_metric["rpm"]["z"]) < 4
    assert by_metric["rpm"]["rul_h"] is None  # no failure limit: features only
    # the episode names the reading that opened it, until a logged repair closes it
    assert store.open_episode_of("pump-03") == order.source_event_ids[0]
    repair = Simulator(seed=7, customers=5, start=START, run="fix").asset_repair(
        "pump-03", "Bearing replaced."
    )
    world.producer.publish([repair])
    wait_for(lambda: store.open_episode_of("pump-03") is None, 60, "the repair to close it")


@pytest.mark.script(maintenance_stop_rul_h=1000.0)
def test_a_work_order_that_stops_the_asset_waits_for_approval(world: World) -> None:
    _logs, readings, _failure_at = pump_run()
    world.producer.publish(readings)
    worker = world.maintenance.worker
    wait_for(lambda: len(worker.pending.pending()) == 1, 120, "the stop approval")
    [request] = worker.pending.pending()
    assert (request.kind, request.subject_id) == ("stop_asset", "pump-03")
    assert request.thread_id.startswith("maintenance:")
    assert world.topic(Stream.WORK_ORDERS, 1, WorkOrder, timeout=2) == []  # not before approval
    world.producer.publish(
        [
            ApprovalResponse(
                approval_id=request.approval_id,
                interrupt_id=request.interrupt_id,
                proposal_hash=request.proposal_hash,
                decision="approve",
                analyst="ops.olga",
            )
        ]
    )
    wait_for(lambda: worker.metrics.approved == 1, 60, "the approval to apply")
    [order] = world.topic(Stream.WORK_ORDERS, 1, WorkOrder)
    assert (order.stops_asset, order.decided_by, order.approval_id) == (
        True, "analyst", request.approval_id,
    )  # fmt: skip


def test_a_severe_signal_alerts_the_affected_customers_once(world: World) -> None:
    sim = Simulator(seed=7, customers=5, start=START)
    # a few readings so the monitoring agent knows what stands at the north plant
    readings, _ = sim.asset_run(hours=0.5)
    world.producer.publish(readings)
    wait_for(lambda: world.maintenance.worker.metrics.screened == len(readings), 60, "readings")
    minor = sim.monitoring_signal().model_copy(update={"severity": "minor"})
    storm, repeat = SCENARIOS["storm"](sim)
    world.producer.publish([minor, storm, repeat])
    m = world.monitoring.worker.metrics
    wait_for(lambda: m.screened == 3 and sum(m.outcomes.values()) == 1, 60, "the storm handled")
    londoners = sorted(c for c, city in world.customers.items() if city == "London")
    assert londoners
    assert len(londoners) < len(world.customers)
    expect = len(londoners) + 1  # and one for operations: the north plant's pumps
    alerts = world.topic(Stream.ALERTS, expect, Alert)
    to_customers = [a for a in alerts if a.audience == "customer"]
    assert sorted(a.subject_id for a in to_customers) == londoners
    assert {a.title for a in to_customers} == {"Storm warning for London"}
    [ops] = [a for a in alerts if a.audience == "operations"]
    assert "pump-01" in ops.body
    assert "turbine" not in ops.body
    # the feed repeats the warning later: nobody hears about it twice
    world.producer.publish([repeat.model_copy(update={"event_id": "evt-again"})])
    wait_for(lambda: m.screened == 4, 60, "the repeat screened")
    time.sleep(1.0)
    assert len(world.topic(Stream.ALERTS, expect + 1, Alert, timeout=2)) == expect
    assert len(world.models["monitoring"].calls) == 1
