"""The one list of agents: names checked, approval prefixes declared once, workers built."""

from __future__ import annotations

from typing import Any

import pytest

from agents.core import AgentDeps, Binding, Screening
from agents.errors import UnknownAgentError
from agents.registry import AGENTS, AgentSpec, approval_prefixes, build_worker, select
from ingestion.contracts import Transaction
from tests.conftest import base_settings
from vigil.settings import Stream


def test_all_and_named_selections() -> None:
    assert select("all") == ["fraud", "maintenance", "monitoring"] == list(AGENTS)
    assert select("fraud, monitoring") == ["fraud", "monitoring"]


def test_an_unknown_agent_is_a_clear_error_naming_the_known_ones() -> None:
    with pytest.raises(UnknownAgentError, match=r"no agent 'frod'; agents: fraud, maintenance"):
        select("frod")
    with pytest.raises(UnknownAgentError, match="no agent ''"):
        select("fraud,")


def test_approval_prefixes_come_from_the_registry() -> None:
    assert approval_prefixes() == {"appr-", "stop-"}
    assert approval_prefixes([AgentSpec("x", AGENTS["fraud"].binding, "x-")]) == {"x-"}


def _binding(prefix: str | None) -> Any:
    def make(deps: AgentDeps) -> Binding[Transaction]:
        return Binding(
            name="odd", input=Stream.TRANSACTIONS, model=Transaction,
            screen=lambda batch: Screening(), graph=None,  # type: ignore[arg-type]
            context=deps, approval_prefix=prefix,
        )  # fmt: skip

    return make


def test_a_binding_that_disagrees_with_its_spec_is_refused(
    redis_client: tuple[Any, str],
) -> None:
    client, prefix = redis_client
    s = base_settings(redis_prefix=prefix.rstrip(":"))
    kw: dict[str, Any] = {"redis": client, "producer": None, "gateway": None,
                          "checkpointer": None, "tools": None}  # fmt: skip
    with pytest.raises(UnknownAgentError, match="issues approval ids 'odd-'"):
        build_worker(s, AgentSpec("odd", _binding("odd-"), approval_prefix="ask-"), **kw)
    worker = build_worker(s, AgentSpec("odd", _binding("ask-"), approval_prefix="ask-"), **kw)
    # it knows every registered agent's ids as well as its own: none of theirs is "unknown"
    assert worker.known_prefixes == {"appr-", "stop-", "ask-"}
    assert worker.pending.prefix == worker.ledger.prefix == s.redis_prefix
