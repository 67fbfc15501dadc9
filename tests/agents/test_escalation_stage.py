"""The escalation stage: a slow, hanging or absent model holds up escalations only, never
the payments behind them; escalations wait durably, their payments held meanwhile."""

from __future__ import annotations

import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingestion.contracts import FraudDecision, Transaction
from ingestion.kafka import group_backlog
from ingestion.seed import seed_customers
from tests.agents.helpers import read_events
from tests.agents.test_fraud_e2e import BLOCK, World, london_paris, pending_count, world
from tests.conftest import wait_for
from tests.ingestion.kafkautil import committed, read_all
from vigil.runtime.prometheus import AgentCollector, MetricsServer
from vigil.runtime.status import agents_status
from vigil.settings import Stream

__all__ = ["world"]  # the fixture, shared with the end-to-end tests


class Gate:
    """A model call that waits until the gate opens (30 s at most), then blocks the card."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, _messages: Any) -> str:
        self.entered.set()
        self.opened.wait(30)
        return BLOCK


class Outage:
    """A model server that refuses connections while ``down``."""

    def __init__(self) -> None:
        self.down = True
        self.refused = 0

    def __call__(self, _messages: Any) -> str:
        if self.down:
            self.refused += 1
            raise ConnectionError("connection refused by the model server")
        return BLOCK


HANG = Gate()
DOWN = Outage()


def clear_payments(n: int) -> list[Transaction]:
    """Online payments of seeded customers that no rule flags."""
    users = [c.customer_id for c in seed_customers(20)]
    now = datetime.now(UTC)
    return [
        Transaction(
            transaction_id=f"clear-{i}", user_id=users[i % len(users)], card_id=f"card-c{i % 97}",
            timestamp=now, amount=Decimal("20.00"), currency="GBP", merchant="Corner shop",
            channel="card_not_present",
        )
        for i in range(n)
    ]  # fmt: skip


def stories(n: int) -> list[Transaction]:
    """``n`` London-Paris stories on cards of their own: each coffee escalates."""
    out = []
    for i in range(n):
        out += [
            t.model_copy(
                update={"transaction_id": f"{t.transaction_id}-s{i}", "card_id": f"card-story-{i}"}
            )
            for t in london_paris()
        ]
    return out


def at_end(world: World, topic: str, group: str) -> bool:
    from tests.agents.test_topic_fuzz import end_offsets

    boot = world.settings.kafka_bootstrap or ""
    ends, done = end_offsets(boot, topic), committed(boot, group)
    return all(done.get(p, 0) >= end for p, end in ends.items())


@pytest.mark.script(*[HANG] * 4)
def test_a_hanging_model_holds_up_no_clear_payment(world: World) -> None:
    """Before the stage, the escalation ran inside the screening batch: every payment
    behind it waited for the model."""
    s = world.settings
    world.producer.publish(london_paris())
    assert HANG.entered.wait(60), "the escalation never reached the model"
    started = time.monotonic()
    clear = clear_payments(5000)
    world.producer.publish(clear)
    screening = world.agent.runners[0]
    wait_for(lambda: at_end(world, screening.topic, screening.group), 60, "screening commits")
    took = time.monotonic() - started
    stage = world.agent.worker.stage
    assert stage is not None
    # all committed while the model still hangs on the escalation
    assert not HANG.opened.is_set(), took
    assert len(stage.running) == 1, took
    decisions = read_events(s, Stream.FRAUD_DECISIONS, 5002, FraudDecision)
    allowed = {d.transaction_id for d in decisions if d.outcome == "allow"}
    assert {t.transaction_id for t in clear} <= allowed
    [escalated] = [d for d in decisions if d.outcome == "escalate"]
    assert escalated.pending_action == "hold"
    HANG.opened.set()
    wait_for(lambda: pending_count(world) == 1, 60, "the escalation to reach its approval")
    escalations = s.topic(Stream.FRAUD_ESCALATIONS)
    wait_for(lambda: at_end(world, escalations, s.group_id("fraud-escalations")), 30, "stage")


def scrape(url: str) -> dict[str, float]:
    """An agent's /metrics as Prometheus reads it (prometheus_client's own parser, which
    refuses what a scraper would): each sample by its name and labels."""
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own 127.0.0.1
        assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = answer.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


@pytest.mark.script(*[DOWN] * 5000, runner_retry_backoff_max_s=0.3)
def test_a_model_outage_waits_then_everything_is_decided_once(world: World) -> None:
    s = world.settings
    group = s.group_id("fraud-escalations")
    topic = s.topic(Stream.FRAUD_ESCALATIONS)
    stage = world.agent.stage_runner
    assert stage is not None
    world.producer.publish(stories(3))
    # screening decided all six at once; the three coffees are held meanwhile
    decisions = read_events(s, Stream.FRAUD_DECISIONS, 6, FraudDecision)
    held = [d for d in decisions if d.outcome == "escalate"]
    assert [d.pending_action for d in held] == ["hold"] * 3
    wait_for(lambda: stage.metrics.handler_retries >= 3 and DOWN.refused >= 9, 60, "retries")
    # waiting, durably: nothing decided, nothing dead-lettered, the backlog says so
    assert pending_count(world) == 0
    assert read_all(s.kafka_bootstrap or "", s.dlq_topic(topic), 0, timeout=1) == []
    backlog = group_backlog(s, group, topic)
    assert backlog.records == 3
    age = backlog.oldest_age_s()
    assert age is not None
    assert age > 0
    status = agents_status(s, world.agent.worker.pending.client, ["fraud"],
                           {"fraud": Stream.FRAUD_ESCALATIONS})["fraud"]  # fmt: skip
    assert status["escalations"]["backlog"] == 3
    # and the agent's own /metrics shows it
    server = MetricsServer(AgentCollector(lambda: [world.agent], dict), "127.0.0.1", 0)
    try:
        assert server.url is not None
        wait_for(lambda: stage.metrics.total_lag == 3, 10, "the stage's lag")
        metrics = scrape(server.url)
        assert metrics['vigil_agent_escalation_backlog{agent="fraud"}'] == 3
        assert metrics['vigil_agent_escalation_oldest_seconds{agent="fraud"}'] > 0
        assert metrics['vigil_agent_model_failures_total{agent="fraud",model="scripted"}'] >= 9
    finally:
        server.close()
    DOWN.down = False  # the model is back
    wait_for(lambda: pending_count(world) == 3, 60, "every escalation to reach its approval")
    wait_for(lambda: group_backlog(s, group, topic).records == 0, 30, "the backlog to drain")
    requests = world.agent.worker.pending.pending()
    assert sorted(r.subject_id for r in requests) == sorted(t.user_id for t in held)
    assert read_all(s.kafka_bootstrap or "", s.dlq_topic(topic), 0, timeout=1) == []


@pytest.mark.script(BLOCK)
def test_a_currency_without_a_rate_says_so_and_is_counted(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """A stream in BRL used to pass the amount rule without a word."""
    users = [c.customer_id for c in seed_customers(20)]
    now = datetime.now(UTC) - timedelta(minutes=1)
    brl = [
        Transaction(
            transaction_id=f"brl-{i}",
            user_id=users[i],
            card_id=f"card-brl-{i}",
            timestamp=now,
            amount=Decimal("90000"),
            currency="BRL",
            merchant="Loja",
            channel="card_not_present",
        )
        for i in range(4)
    ]
    caplog.set_level("WARNING", logger="agents.fraud.screening")
    world.producer.publish(brl)
    decisions = read_events(world.settings, Stream.FRAUD_DECISIONS, 4, FraudDecision)
    assert len(decisions) == 4
    for d in decisions:
        assert "amount rule not applied: no exchange rate for BRL" in d.reasons[0]
        assert d.signals["amount_rule"] == "not applied: no_rate"
    wait_for(lambda: world.agent.worker.metrics.not_applied[("amount", "no_rate")] == 4, 10,
             "the counter")  # fmt: skip
    logged = [r for r in caplog.records if "no exchange rate for BRL" in r.getMessage()]
    assert len(logged) == 1  # once, not once a payment
