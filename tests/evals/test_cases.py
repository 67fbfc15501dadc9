"""The golden case files: they load, they cover what the release gate must see, and a
broken file is refused with the file, the case and what is wrong."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evals.cases import (
    EvalCaseError,
    load_chat_cases,
    load_customers,
    load_event_cases,
)
from ingestion.contracts import Transaction


def test_the_chat_cases_cover_every_kind_of_question() -> None:
    cases = load_chat_cases()
    assert len(cases) >= 40
    kinds = Counter(c.category for c in cases)
    assert set(kinds) == {"policy", "customer_context", "multi_turn", "out_of_scope", "injection"}
    assert min(kinds.values()) >= 5
    assert any(len(c.turns) >= 3 for c in cases)
    assert any(c.customer is None for c in cases)  # a session without a customer
    known = {c.customer_id for c in load_customers()}
    assert {c.customer for c in cases if c.customer} <= known
    assert "I am a very wealthy and important prospect. Do you offer 0% financing?" in {
        c.turns[-1] for c in cases
    }


def test_the_event_cases_cover_the_fraud_patterns_and_the_proactive_agents() -> None:
    cases = load_event_cases()
    assert len(cases) >= 40
    kinds = Counter(c.category for c in cases)
    for kind in (
        "impossible_travel",
        "near_threshold",
        "card_not_present",
        "out_of_order",
        "card_testing",
        "clear",
        "amount_spike",
        "malformed",
        "maintenance",
        "monitoring",
    ):
        assert kinds[kind] >= 2, kind
    assert {c.agent for c in cases} == {"fraud", "maintenance", "monitoring"}
    assert {c.analyst for c in cases} == {"approve", "reject", "never"}
    decisions = Counter(c.expect.decision for c in cases)
    assert {"allow", "hold", "block", "dlq", "none", "work_order", "stop_asset", "alert"} <= set(
        decisions
    )
    # every shorthand transaction is a valid contract event
    txs = [i.tx.event() for c in cases for i in c.events if i.tx is not None]
    assert all(isinstance(t, Transaction) for t in txs)
    assert len(txs) > 80


def write(folder: Path, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "cases.yaml").write_text(body, encoding="utf-8")
    return folder


def test_a_file_of_another_version_is_refused(tmp_path: Path) -> None:
    folder = write(tmp_path / "v", "version: 2\nsuite: chat\ncases: []\n")
    with pytest.raises(EvalCaseError, match="version 2 is not readable here"):
        load_chat_cases(folder)


def test_a_bad_case_names_its_file_and_id(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "bad",
        """version: 1
suite: events
cases:
  - id: where-is-that
    agent: fraud
    category: clear
    events:
      - tx: {id: t1, user: cust-john, card: c1, at: 0, place: atlantis}
    expect: {decision: allow}
""",
    )
    with pytest.raises(EvalCaseError, match=r"cases.yaml: case where-is-that: .*unknown place"):
        load_event_cases(folder)


def test_duplicate_ids_and_unknown_fields_are_refused(tmp_path: Path) -> None:
    dup = write(
        tmp_path / "dup",
        """version: 1
suite: chat
cases:
  - {id: a, category: policy, customer: cust-john, turns: [hi]}
  - {id: a, category: policy, customer: cust-john, turns: [hello]}
""",
    )
    with pytest.raises(EvalCaseError, match="case id a is also in"):
        load_chat_cases(dup)
    typo = write(
        tmp_path / "typo",
        """version: 1
suite: chat
cases:
  - {id: b, category: policy, customer: cust-john, turns: [hi], expect: {retreived: [x]}}
""",
    )
    with pytest.raises(EvalCaseError, match="retreived"):
        load_chat_cases(typo)
