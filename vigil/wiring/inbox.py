"""``vigil approvals ...``: the analyst's inbox at a terminal."""

from __future__ import annotations

import json
from typing import Literal

from rich.console import Console
from rich.table import Table

from ingestion.contracts import ApprovalResponse
from ingestion.kafka import require_bootstrap
from ingestion.producer import EventProducer
from tools.approvals import PendingApprovals, answer
from tools.errors import ApprovalMismatchError
from vigil.errors import VigilError
from vigil.settings import Settings
from vigil.wiring.clients import redis_client


def _pending(settings: Settings) -> PendingApprovals:
    return PendingApprovals.of(settings, redis_client(settings))


def list_pending(settings: Settings, console: Console) -> None:
    requests = _pending(settings).pending()
    table = Table("approval", "kind", "subject", "proposal", "why", "deadline (UTC)")
    for r in requests:
        if r.kind == "block_transaction":
            what = f"block {r.proposal.get('transaction_id')} (risk {r.proposal.get('risk')})"
            why = str(r.proposal.get("reason"))
        else:
            what = f"stop {r.proposal.get('asset_id')} for {r.proposal.get('work_order_id')}"
            why = str(r.proposal.get("job"))
        table.add_row(
            r.approval_id, r.kind, r.subject_id, what, why,
            r.deadline.strftime("%Y-%m-%d %H:%M:%S"),
        )  # fmt: skip
    console.print(table if requests else "no pending approvals")


def show(settings: Settings, console: Console, approval_id: str) -> None:
    found = _pending(settings).get(approval_id)
    if found is None:
        raise VigilError(f"no approval {approval_id}: see `vigil approvals list`")
    request, state = found
    console.print(f"[bold]{approval_id}[/] ({state})")
    console.print_json(json.dumps(request.model_dump(mode="json")))


def decide(
    settings: Settings,
    console: Console,
    approval_id: str,
    decision: Literal["approve", "reject"],
    analyst: str,
    reason: str,
    proposal_hash: str | None,
) -> ApprovalResponse:
    """Check the answer against the pending request, then send it to the fraud agent."""
    try:
        response = answer(
            _pending(settings), approval_id, decision,
            analyst=analyst, reason=reason, proposal_hash=proposal_hash,
        )  # fmt: skip
    except ApprovalMismatchError as exc:
        hint = ": see `vigil approvals list`" if str(exc).startswith("no approval") else ""
        raise VigilError(f"{exc}{hint}") from exc
    require_bootstrap(settings)
    with EventProducer(settings) as producer:
        producer.publish([response])
    console.print(f"[green]{decision} sent for {approval_id}[/] (the fraud agent applies it)")
    return response
