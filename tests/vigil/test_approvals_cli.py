"""The analyst's terminal: list, show, approve, reject; a mismatched answer is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ingestion.contracts import ApprovalRequest, ApprovalResponse
from tests.conftest import run_vigil
from tests.ingestion.kafkautil import read_all
from tests.vigil.test_cli import env_with
from tools.approvals import PendingApprovals, proposal_hash
from tools.block import block_proposal
from vigil.settings import Settings, Stream


def test_list_show_approve_and_refuse(settings: Settings, redis_client: tuple[Any, str]) -> None:
    client, prefix = redis_client
    p = prefix.rstrip(":")
    proposal = block_proposal("tx-2", "card-john-debit", "cust-john", "impossible travel", 0.97)
    request = ApprovalRequest(
        approval_id="appr-tx-2", interrupt_id="intr-1", thread_id="fraud:tx-2",
        kind="block_transaction", subject_id="cust-john", proposal=proposal,
        proposal_hash=proposal_hash(proposal), evidence=["19,328 mph"],
        deadline=datetime.now(UTC) + timedelta(minutes=30),
    )  # fmt: skip
    PendingApprovals(client, prefix=p).add(request)
    env = env_with(
        kafka_bootstrap=settings.kafka_bootstrap or "",
        redis_url=settings.redis_url or "",
        redis_prefix=p,
        topic_approval_responses=settings.topic(Stream.APPROVAL_RESPONSES),
    )
    listed = run_vigil("approvals", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "appr-tx-2" in listed.stdout
    assert "impossible travel" in listed.stdout
    shown = run_vigil("approvals", "show", "appr-tx-2", env=env)
    assert request.proposal_hash in shown.stdout
    wrong = run_vigil(
        "approvals", "approve", "appr-tx-2", "--analyst", "ana", "--proposal-hash", "sha256:old",
        env=env,
    )  # fmt: skip
    assert wrong.returncode == 2
    assert "review what you approve" in wrong.stderr
    missing = run_vigil("approvals", "reject", "appr-nope", "--analyst", "ana", env=env)
    assert missing.returncode == 2
    assert "no approval appr-nope" in missing.stderr
    ok = run_vigil(
        "approvals", "approve", "appr-tx-2", "--analyst", "ana", "--reason", "ok", env=env
    )
    assert ok.returncode == 0, ok.stderr
    [sent] = read_all(settings.kafka_bootstrap or "", settings.topic(Stream.APPROVAL_RESPONSES), 1)
    response = ApprovalResponse.model_validate_json(sent.value)
    assert (response.decision, response.analyst, response.interrupt_id) == (
        "approve",
        "ana",
        "intr-1",
    )
    assert response.proposal_hash == request.proposal_hash
