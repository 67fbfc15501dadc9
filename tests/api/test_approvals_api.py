"""An analyst answers the fraud agent's proposal through the API; the block follows."""

from __future__ import annotations

import json
import threading
from typing import Any

from httpx_sse import connect_sse

from agents.service import AgentService
from ingestion.contracts import BlockAction
from ingestion.errors import DeliveryError
from ingestion.producer import EventProducer
from tests.agents.helpers import read_events
from tests.agents.test_fraud_e2e import london_paris
from tests.api.conftest import Api, events_of
from tests.conftest import wait_for
from vigil.settings import Stream


def propose_a_block(api: Api, fraud: AgentService) -> dict[str, Any]:
    with EventProducer(api.settings) as producer:
        producer.publish(london_paris())
    with api.client("analyst") as c:
        wait_for(lambda: len(c.get("/approvals").json()) == 1, 60, "a pending proposal")
        [pending] = c.get("/approvals").json()
    return dict(pending)


def test_an_analyst_approves_a_pending_proposal_and_the_block_follows(
    api: Api, fraud: AgentService
) -> None:
    feed: list[tuple[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        with api.client("analyst") as c, connect_sse(c, "GET", "/approvals/events") as es:
            opened.set()
            for ev in events_of(es):
                feed.append((ev.event, ev.json()))
                if ev.event == "approval.resolved":
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)
    pending = propose_a_block(api, fraud)
    assert pending["kind"] == "block_transaction"
    assert pending["state"] == "pending"
    assert any("impossible travel" in e for e in pending["evidence"])
    approval_id = pending["approval_id"]
    with api.client("analyst") as c:
        shown = c.get(f"/approvals/{approval_id}").json()
        assert shown["proposal_hash"] == pending["proposal_hash"]
        altered = c.post(f"/approvals/{approval_id}/approve",
                         json={"proposal_hash": "sha256:not-what-is-pending"})  # fmt: skip
        assert altered.status_code == 409
        assert "review what you approve" in altered.json()["detail"]
        seen = {"reason": "called the customer", "proposal_hash": pending["proposal_hash"]}
        r = c.post(f"/approvals/{approval_id}/approve", json=seen)
        assert r.status_code == 202, r.text
        assert r.json()["analyst"] == "analyst.ana"
        wait_for(lambda: fraud.worker.metrics.blocked == 1, 60, "the block")
        [block] = read_events(api.settings, Stream.BLOCK_ACTIONS, 1, BlockAction)
        assert block.transaction_id == pending["proposal"]["transaction_id"]
        assert (block.authority, block.approved_by) == ("analyst", "analyst.ana")
        wait_for(lambda: c.get(f"/approvals/{approval_id}").json()["state"] == "approve", 10,
                 "the approval to show as decided")  # fmt: skip
        decided = c.get(f"/approvals/{approval_id}").json()
        assert decided["decision"]["reason"] == "called the customer"
        again = c.post(f"/approvals/{approval_id}/approve", json={})
        assert again.status_code == 409
        assert "already decided" in again.json()["detail"]
        assert c.get("/approvals").json() == []
        # the decided list: newest first, each with who decided, when and why
        [listed] = c.get("/approvals/decided").json()
        assert (listed["approval_id"], listed["state"]) == (approval_id, "approve")
        assert listed["decision"]["analyst"] == "analyst.ana"
        assert listed["case"]["payments"][-1]["transaction_id"] == block.transaction_id
        assert c.get("/approvals/decided", params={"limit": 0}).status_code == 422
    with api.client("john") as c:
        assert c.get("/approvals/decided").status_code == 403
    listener.join(15)
    names = [name for name, _ in feed]
    assert names == ["snapshot", "approval.new", "approval.resolved"]
    assert feed[0][1] == {"pending": []}
    assert feed[1][1]["approval_id"] == approval_id
    assert feed[2][1]["state"] == "approve"
    assert feed[2][1]["decision"]["analyst"] == "analyst.ana"
    assert json.dumps(feed[2][1])  # the feed carries plain JSON


def test_a_rejection_needs_a_reason(api: Api, fraud: AgentService) -> None:
    pending = propose_a_block(api, fraud)
    with api.client("analyst") as c:
        r = c.post(f"/approvals/{pending['approval_id']}/reject", json={})
        assert r.status_code == 422
        assert "reason" in r.text
        ok = c.post(f"/approvals/{pending['approval_id']}/reject", json={"reason": "known trip"})
        assert ok.status_code == 202
    wait_for(lambda: fraud.worker.metrics.rejected == 1, 60, "the rejection")
    assert read_events(api.settings, Stream.BLOCK_ACTIONS, 0, BlockAction, timeout=2) == []


def test_the_first_answer_wins_and_every_other_gets_409(api: Api, fraud: AgentService) -> None:
    """Twelve analysts' answers at once, approvals and rejections: one is accepted, the
    rest are told it was already answered, and what happens is what the accepted one said.
    A hash that is not exactly the pending proposal's (empty, padded) is refused first."""
    pending = propose_a_block(api, fraud)
    approval_id, good = pending["approval_id"], pending["proposal_hash"]
    with api.client("analyst") as c:
        for bad in ("", f"{good} ", f" {good}", good.upper()):
            r = c.post(f"/approvals/{approval_id}/approve", json={"proposal_hash": bad})
            assert r.status_code == 409, (bad, r.text)
            assert "review what you approve" in r.json()["detail"]
    results: list[tuple[str, int, str]] = []
    start = threading.Barrier(12)

    def answer(i: int) -> None:
        decision = "approve" if i % 2 else "reject"
        body = {"proposal_hash": good, "reason": f"analyst {i} says {decision}"}
        with api.client("analyst" if i % 3 else "admin") as c:
            start.wait(10)
            r = c.post(f"/approvals/{approval_id}/{decision}", json=body)
            results.append((decision, r.status_code, r.text))

    threads = [threading.Thread(target=answer, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    accepted = [d for d, status, _ in results if status == 202]
    refused = [text for _, status, text in results if status == 409]
    assert len(results) == 12
    assert len(accepted) == 1, results
    assert len(refused) == 11, results
    assert all("already" in text for text in refused), refused
    with api.client("analyst") as c:
        wait_for(lambda: c.get(f"/approvals/{approval_id}").json()["state"] != "pending", 60,
                 "the accepted answer to be applied")  # fmt: skip
        assert c.get(f"/approvals/{approval_id}").json()["state"] == accepted[0]
    if accepted[0] == "approve":
        wait_for(lambda: fraud.worker.metrics.blocked == 1, 30, "the block")
    assert fraud.worker.metrics.blocked == (1 if accepted[0] == "approve" else 0)
    assert fraud.worker.metrics.approved + fraud.worker.metrics.rejected == 1


def test_an_answer_the_broker_cannot_take_is_503_and_leaves_the_request_pending(
    api: Api, fraud: AgentService
) -> None:
    pending = propose_a_block(api, fraud)
    approval_id, good = pending["approval_id"], pending["proposal_hash"]
    publisher = api.deps.publisher

    class BrokerDown:
        def publish(self, *args: Any, **kw: Any) -> Any:
            raise DeliveryError("broker did not acknowledge a record: KafkaTimeoutError")

    api.deps.publisher = BrokerDown()
    try:
        with api.client("analyst") as c:
            r = c.post(f"/approvals/{approval_id}/reject",
                       json={"proposal_hash": good, "reason": "looks fine"})  # fmt: skip
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "5"
            assert r.json()["detail"].startswith("kafka is unavailable")
    finally:
        api.deps.publisher = publisher
    with api.client("analyst") as c:
        # nothing holds the request: another answer goes through
        r = c.post(f"/approvals/{approval_id}/approve", json={"proposal_hash": good})
        assert r.status_code == 202, r.text
    wait_for(lambda: fraud.worker.metrics.blocked == 1, 60, "the block")
