"""Blocks only with an approval of exactly that proposal, and only once; alerts once."""

from __future__ import annotations

from typing import Any

import pytest

from ingestion.contracts import Alert, ApprovalResponse, BlockAction
from ingestion.producer import EventProducer
from tests.ingestion.kafkautil import read_all
from tools.alerts import AlertService
from tools.approvals import ApprovalLedger, proposal_hash
from tools.block import AutoPolicy, BlockService, block_proposal
from tools.errors import ApprovalConflictError, NotApprovedError
from tools.once import OnceEmitter
from vigil.settings import Settings, Stream

PROPOSAL = block_proposal("tx-2", "card-john-debit", "cust-john", "impossible travel", 0.97)


def approval(decision: str = "approve", proposal: dict[str, Any] = PROPOSAL) -> ApprovalResponse:
    return ApprovalResponse(
        approval_id="appr-1",
        interrupt_id="intr-1",
        proposal_hash=proposal_hash(proposal),
        decision=decision,
        analyst="analyst.ana",
        reason="confirmed with the customer",
    )


class FlakyPublisher:
    """Dies once before the broker acks, like a worker killed mid-publish."""

    def __init__(self, inner: EventProducer) -> None:
        self.inner = inner
        self.fail = True

    def publish(self, events: Any, *, topic: Any = None, timeout: float = 30.0) -> list[Any]:
        if self.fail:
            self.fail = False
            raise ConnectionError("killed before the ack")
        return self.inner.publish(events, topic=topic, timeout=timeout)


@pytest.fixture
def parts(settings: Settings, redis_client: tuple[Any, str]) -> Any:
    client, prefix = redis_client
    producer = EventProducer(settings)
    ledger = ApprovalLedger(client, prefix=prefix.rstrip(":"))
    emitter = OnceEmitter(client, producer, prefix=prefix.rstrip(":"))
    yield ledger, emitter, producer
    producer.close()


def blocks_on_kafka(settings: Settings, expect: int) -> list[BlockAction]:
    records = read_all(settings.kafka_bootstrap or "", settings.topic(Stream.BLOCK_ACTIONS), expect)
    return [BlockAction.model_validate_json(r.value) for r in records]


def test_no_approval_no_block(parts: Any) -> None:
    ledger, emitter, _ = parts
    service = BlockService(ledger, emitter)
    with pytest.raises(NotApprovedError, match="request one and wait"):
        service.block(PROPOSAL, approval_id=None)
    with pytest.raises(NotApprovedError, match="does not exist"):
        service.block(PROPOSAL, approval_id="appr-unknown")


def test_a_rejected_or_mismatched_approval_is_refused(parts: Any) -> None:
    ledger, emitter, _ = parts
    service = BlockService(ledger, emitter)
    other = block_proposal("tx-2", "card-john-debit", "cust-john", "impossible travel", 0.5)
    ledger.record(approval(proposal=other))
    with pytest.raises(NotApprovedError, match="approves a different proposal"):
        service.block(PROPOSAL, approval_id="appr-1")
    ledger2 = ApprovalLedger(ledger.client, prefix=ledger.prefix + "x")
    ledger2.record(approval("reject"))
    with pytest.raises(NotApprovedError, match=r"rejected by analyst\.ana"):
        BlockService(ledger2, emitter).block(PROPOSAL, approval_id="appr-1")


def test_approved_block_is_applied_once_and_published_once(parts: Any, settings: Settings) -> None:
    ledger, emitter, _ = parts
    ledger.record(approval())
    service = BlockService(ledger, emitter)
    first = service.block(PROPOSAL, approval_id="appr-1")
    again = service.block(PROPOSAL, approval_id="appr-1")
    also = service.block(PROPOSAL, approval_id=None)  # even without the approval now
    assert first.applied_now
    assert not again.applied_now
    assert not also.applied_now
    assert first.action == again.action == also.action
    assert (first.action.authority, first.action.approved_by) == ("analyst", "analyst.ana")
    [published] = blocks_on_kafka(settings, 1)
    assert published == first.action
    assert published.event_id == "block-tx-2"


def test_a_crash_before_the_ack_is_finished_by_the_retry(parts: Any, settings: Settings) -> None:
    ledger, _, producer = parts
    ledger.record(approval())
    flaky = OnceEmitter(ledger.client, FlakyPublisher(producer), prefix=ledger.prefix)
    service = BlockService(ledger, flaky)
    with pytest.raises(ConnectionError):
        service.block(PROPOSAL, approval_id="appr-1")
    retry = service.block(PROPOSAL, approval_id="appr-1")
    assert not retry.applied_now  # the effect was recorded by the first attempt
    assert len(blocks_on_kafka(settings, 1)) == 1  # and it reached the topic exactly once


def test_an_auto_policy_blocks_only_above_its_threshold(parts: Any) -> None:
    ledger, emitter, _ = parts
    service = BlockService(ledger, emitter, AutoPolicy("risk-threshold", 0.95))
    low = block_proposal("tx-9", "card-x", "cust-x", "odd", 0.6)
    with pytest.raises(NotApprovedError):
        service.block(low, approval_id=None)
    outcome = service.block(PROPOSAL, approval_id=None)
    assert (outcome.action.authority, outcome.action.approved_by) == (
        "auto_policy",
        "auto:risk-threshold",
    )


def test_the_first_decision_wins_in_the_ledger(parts: Any) -> None:
    ledger, _, _ = parts
    assert ledger.record(approval()).decision == "approve"
    assert ledger.record(approval()).decision == "approve"  # the same again: fine
    with pytest.raises(ApprovalConflictError, match="already decided"):
        ledger.record(approval("reject"))


def test_alerts_go_out_once(parts: Any, settings: Settings) -> None:
    _, emitter, _ = parts
    alerts = AlertService(emitter)
    alert = Alert(
        alert_id="fraud-tx-2", severity="critical", audience="fraud_team",
        title="Card blocked: impossible travel", source="test", subject_id="cust-john",
    )  # fmt: skip
    sent, now = alerts.send(alert)
    _, again = alerts.send(alert.model_copy(update={"title": "changed"}))
    assert now
    assert not again
    [on_topic] = read_all(settings.kafka_bootstrap or "", settings.topic(Stream.ALERTS), 1)
    assert Alert.model_validate_json(on_topic.value) == sent
