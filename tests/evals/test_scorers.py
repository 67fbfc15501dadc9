"""The scorers on their own: plain inputs, no servers."""

from __future__ import annotations

import math

import pytest

from evals.scorers import (
    accuracy,
    citations,
    confusion,
    excludes,
    groundedness,
    includes,
    percentile,
    precision_recall,
    recall_at_k,
    trajectory_match,
)

CALLS = ["velocity_check", "customer_lookup", "search_knowledge", "block_transaction"]


@pytest.mark.parametrize(
    ("actual", "mode", "ok"),
    [
        (CALLS, "strict", True),
        (CALLS[::-1], "strict", False),
        (CALLS[::-1], "unordered", True),
        ([*CALLS, "send_alert"], "unordered", False),
        (CALLS[:2], "unordered", False),
        (CALLS[:2], "subset", True),
        ([*CALLS[:2], "send_alert"], "subset", False),
        ([*CALLS, "send_alert"], "superset", True),
        (CALLS[:3], "superset", False),
        ([*CALLS, "customer_lookup"], "unordered", False),  # counts matter
    ],
)
def test_trajectory_match_modes(actual: list[str], mode: str, ok: bool) -> None:
    score = trajectory_match(actual, CALLS, mode)  # type: ignore[arg-type]
    assert score.passed is ok
    assert score.value == (1.0 if ok else 0.0)
    if not ok:
        assert mode in score.note


def test_a_forbidden_tool_fails_every_mode() -> None:
    for mode in ("strict", "unordered", "subset", "superset"):
        score = trajectory_match(CALLS, CALLS, mode, forbidden=["block_transaction"])
        assert not score.passed
        assert "forbidden block_transaction" in score.note


def test_recall_at_k_counts_only_the_top_k() -> None:
    got = ["faq-cards", "offer-financing", "policy-card-fraud"]
    assert recall_at_k(got, ["offer-financing"], 3).passed
    half = recall_at_k(got, ["offer-financing", "policy-disputes-refunds"], 3)
    assert half.value == 0.5
    assert "policy-disputes-refunds" in half.note
    assert not recall_at_k(got, ["policy-card-fraud"], 2).passed
    assert recall_at_k([], [], 3).value == 1.0


def test_includes_takes_alternatives_and_ignores_case_and_spacing() -> None:
    text = "You can spread it over 12  months at 0% interest [1]."
    assert includes(text, ["0%", ["twelve", "12 MONTHS"]]).passed
    miss = includes(text, ["24 months", ["eligible", "qualify"]])
    assert miss.value == 0.0
    assert "24 months" in miss.note
    assert excludes(text, ["PIN"]).passed
    assert not excludes(text, ["0% INTEREST"]).passed


def test_citations_need_every_expected_document() -> None:
    assert citations(["offer-financing", "faq-cards"], ["offer-financing"]).passed
    partial = citations(["faq-cards"], ["offer-financing", "faq-cards"])
    assert partial.value == 0.5
    assert not partial.passed


POLICY = (
    "Spread a purchase of 500 GBP or more over 6 or 12 months at 0% interest, with no "
    "arrangement fee. Eligibility: a credit score of 700 or more and two years as a customer."
)


def test_groundedness_supports_what_the_sources_say() -> None:
    grounded = groundedness(
        "You can spread a purchase over 12 months at 0% interest [1]. "
        "You need a credit score of 700 or more.",
        [POLICY],
    )
    assert grounded.value == 1.0
    assert grounded.passed


def test_groundedness_catches_invented_numbers_and_claims() -> None:
    invented = groundedness(
        "You can spread a purchase over 36 months at 0% interest. "
        "Our gold members receive airport lounge access worldwide.",
        [POLICY],
    )
    assert invented.value == 0.0
    assert "36 months" in invented.note
    assert not groundedness("Hi!", [POLICY]).passed  # nothing to judge is not grounded


def test_decision_figures() -> None:
    pairs = [("block", "block"), ("block", "hold"), ("allow", "block"), ("allow", "allow")]
    pr = precision_recall(pairs, "block")
    assert (pr.tp, pr.fp, pr.fn) == (1, 1, 1)
    assert pr.precision == pr.recall == 0.5
    assert accuracy(pairs) == 0.5
    assert confusion(pairs) == {"block": {"block": 1, "hold": 1}, "allow": {"block": 1, "allow": 1}}
    assert precision_recall([("allow", "allow")], "block").precision == 1.0  # nothing to find
    assert percentile([3.0, 1.0, 2.0, 10.0], 50) == 2.0
    assert percentile([3.0, 1.0, 2.0, 10.0], 95) == 10.0
    assert math.isnan(percentile([], 50))
