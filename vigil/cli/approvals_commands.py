"""``vigil approvals ...``: the analyst's inbox at a terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.cli.common import approvals_app, console, friendly, load_settings


@approvals_app.command("list")
@friendly
def approvals_list() -> None:
    """Pending block proposals, oldest deadline first."""
    from vigil.runtime.stack import discover
    from vigil.wiring.inbox import list_pending

    list_pending(discover(load_settings()), console)


@approvals_app.command("show")
@friendly
def approvals_show(approval_id: str) -> None:
    """One request in full: the proposal, its hash, the evidence, the deadline."""
    from vigil.runtime.stack import discover
    from vigil.wiring.inbox import show

    show(discover(load_settings()), console, approval_id)


def _decide(approval_id: str, decision: str, analyst: str, reason: str, ph: str | None) -> None:
    from vigil.runtime.stack import discover
    from vigil.wiring.inbox import decide

    decide(discover(load_settings()), console, approval_id, decision, analyst, reason, ph)  # type: ignore[arg-type]


@approvals_app.command("approve")
@friendly
def approvals_approve(
    approval_id: str,
    analyst: Annotated[str, typer.Option(help="Who approves.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    proposal_hash: Annotated[
        str | None, typer.Option(help="The hash you reviewed; refused if the proposal changed.")
    ] = None,
) -> None:
    """Approve a block proposal (exactly the one shown by `show`)."""
    _decide(approval_id, "approve", analyst, reason, proposal_hash)


@approvals_app.command("reject")
@friendly
def approvals_reject(
    approval_id: str,
    analyst: Annotated[str, typer.Option(help="Who rejects.")],
    reason: Annotated[str, typer.Option(help="Why (recorded with the false positive).")] = "",
    proposal_hash: Annotated[str | None, typer.Option(help="The hash you reviewed.")] = None,
) -> None:
    """Reject a block proposal: the payment is released and a false positive recorded."""
    _decide(approval_id, "reject", analyst, reason, proposal_hash)
