"""How answers on the shared approvals topic find their agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from agents.core import AgentWorker, Binding, Screening
from agents.registry import approval_prefixes
from graphs.fraud import APPROVAL_PREFIX as FRAUD_PREFIX
from graphs.maintenance.nodes import APPROVAL_PREFIX as STOP_PREFIX
from ingestion.contracts import ApprovalRequest, SensorReading, Transaction
from tests.conftest import base_settings
from tools.approvals import ApprovalLedger, PendingApprovals
from vigil.settings import Stream


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
