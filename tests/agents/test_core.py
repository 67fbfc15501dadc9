"""How answers on the shared approvals topic find their agent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agents.core import AgentWorker, Binding, Screening
from agents.registry import approval_prefixes
from graphs.fraud import APPROVAL_PREFIX as FRAUD_PREFIX
from graphs.maintenance.nodes import APPROVAL_PREFIX as STOP_PREFIX
from ingestion.contracts import Alert, ApprovalRequest, SensorReading, Transaction
from ingestion.producer import EventProducer
from ingestion.runner import Received
from tests.conftest import base_settings
from tests.ingestion.kafkautil import read_all
from tools.approvals import ApprovalLedger, PendingApprovals
from vigil.settings import Settings, Stream


def worker(name: str, prefix: str, claims: bool, client: Any, key_prefix: str) -> AgentWorker:
    binding: Binding[Any] = Binding(
        name=name, input=Stream.TRANSACTIONS if name == "fraud" else Stream.SENSOR_READINGS,
        model=Transaction if name == "fraud" else SensorReading,
        screen=lambda batch: Screening(), context=None,
        graph=None,  # type: ignore[arg-type]  # owns() never reaches the graph
        approval_prefix=prefix, claims_unknown_approvals=claims,
    )  # fmt: skip
    return AgentWorker(
        base_settings(), binding,
        pending=PendingApprovals(client, prefix=key_prefix),
        ledger=ApprovalLedger(client, prefix=key_prefix), producer=None,  # type: ignore[arg-type]
        known_prefixes=approval_prefixes(),
    )  # fmt: skip


def test_answers_go_to_the_agent_that_asked_and_unknown_ids_to_exactly_one(
    redis_client: tuple[Any, str],
) -> None:
    client, prefix = redis_client
    key_prefix = prefix.rstrip(":")
    fraud = worker("fraud", FRAUD_PREFIX, True, client, key_prefix)
    maint = worker("maintenance", STOP_PREFIX, False, client, key_prefix)
    now = datetime.now(UTC)
    PendingApprovals(client, prefix=key_prefix).add(
        ApprovalRequest(
            approval_id="stop-wo-1", interrupt_id="i-1", thread_id="maintenance:wo-1",
            kind="stop_asset", subject_id="pump-03", proposal={"action": "stop_asset"},
            proposal_hash="sha256:x", requested_at=now, deadline=now + timedelta(hours=1),
        )
    )  # fmt: skip
    cases = {
        "stop-wo-1": (False, True),  # pending, asked by the maintenance graph
        "stop-unknown": (False, True),  # unknown, but a maintenance id: maintenance refuses it
        "appr-unknown": (True, False),
        "garbage-1": (True, False),  # nobody's id: the fraud agent dead-letters it, once
    }
    for approval_id, (by_fraud, by_maintenance) in cases.items():
        assert (fraud.owns(approval_id), maint.owns(approval_id)) == (by_fraud, by_maintenance), (
            approval_id
        )


def _alert(n: int) -> Alert:
    return Alert(alert_id=f"a-{n}", severity="info", audience="operations", title=f"part {n}",
                 body="b", source="test", subject_id="s-1",
                 created_at=datetime.now(UTC))  # fmt: skip


def received(n: int) -> list[Received[Any]]:
    """``n`` records the screen above reads only the number of."""
    return [Received(None, "t", 0, i, None, 0) for i in range(n)]


def test_a_screening_in_parts_is_sent_part_by_part_and_acknowledged_before_the_commit(
    settings: Settings, redis_client: tuple[Any, str]
) -> None:
    """A binding may screen a batch part by part (the fraud agent's Redis computes the
    next part meanwhile): every part's events reach the broker, in order; a part that
    fails fails the batch (the runner reads it again: the parts before were sent, and
    their events have stable ids)."""
    client, prefix = redis_client
    made: list[int] = []

    def screen(batch: Any) -> Iterator[Screening[Any]]:
        for n in (1, 2, 3):
            made.append(n)
            if n == 3 and len(batch) > 1:
                raise RuntimeError("part 3 failed")
            yield Screening(publish=[_alert(n)])

    binding: Binding[Any] = Binding(
        name="fraud", input=Stream.TRANSACTIONS, model=Transaction, screen=screen,
        context=None, graph=None,  # type: ignore[arg-type]  # nothing escalates
    )  # fmt: skip
    with EventProducer(settings) as producer:
        w = AgentWorker(
            settings, binding, pending=PendingApprovals(client, prefix=prefix.rstrip(":")),
            ledger=ApprovalLedger(client, prefix=prefix.rstrip(":")), producer=producer,
            known_prefixes=approval_prefixes(),
        )  # fmt: skip
        w.handle(received(1))
        topic = settings.topic(Stream.ALERTS)
        got = [Alert.model_validate_json(r.value).title
               for r in read_all(settings.kafka_bootstrap or "", topic, 3)]  # fmt: skip
        assert got == ["part 1", "part 2", "part 3"]
        assert w.metrics.screened == 1
        with pytest.raises(RuntimeError, match="part 3 failed"):
            w.handle(received(2))
        assert made == [1, 2, 3, 1, 2, 3]
        assert w.metrics.screened == 1, "a failed batch is not counted"
