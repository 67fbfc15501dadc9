"""Figures of a run: per model, per suite and per category, from the case results.

Every figure has a flat name (``events.decision_accuracy``, ``chat.retrieval_recall``,
``chat.category.policy.pass_rate``) so the gate, the baseline comparison and the reports
all speak of the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evals.results import CaseResult
from evals.scorers import accuracy, confusion, mean, percentile, precision_recall, rate


@dataclass
class SuiteSummary:
    suite: str
    model: str
    cases: int
    metrics: dict[str, float] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def flat(self) -> dict[str, float]:
        out = {f"{self.suite}.{k}": v for k, v in self.metrics.items()}
        for cat, figures in self.categories.items():
            for k, v in figures.items():
                out[f"{self.suite}.category.{cat}.{k}"] = v
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "model": self.model,
            "cases": self.cases,
            "metrics": {k: _round(v) for k, v in self.metrics.items()},
            "categories": {
                c: {k: _round(v) for k, v in f.items()} for c, f in self.categories.items()
            },
            "confusion": self.confusion,
        }


def _round(v: float) -> float | None:
    return None if math.isnan(v) else round(v, 4)


def _check_rate(results: Sequence[CaseResult], name: str) -> float:
    """Share of the cases that have this check and pass it (NaN when none has it)."""
    have = [r.checks[name].passed for r in results if name in r.checks]
    return rate(have) if have else math.nan


def _check_mean(results: Sequence[CaseResult], name: str) -> float:
    return mean(r.checks[name].value for r in results if name in r.checks)


def _common(results: Sequence[CaseResult]) -> dict[str, float]:
    lat = [r.latency_s for r in results]
    return {
        "pass_rate": rate(r.passed(model_dependent=False) for r in results),
        "pass_rate_all": rate(r.passed(model_dependent=True) for r in results),
        "errors": float(sum(r.error is not None for r in results)),
        "latency_p50_s": percentile(lat, 50),
        "latency_p95_s": percentile(lat, 95),
        "tokens_per_case": mean(float(r.input_tokens + r.output_tokens) for r in results),
        "model_calls_per_case": mean(float(r.model_calls) for r in results),
    }


def _declined(results: Sequence[CaseResult], *, out_of_scope: bool) -> float:
    rows = [r for r in results if (r.category == "out_of_scope") == out_of_scope]
    return rate(r.details.get("answered_by", "").startswith("graph") for r in rows)


def summarize_chat(results: Sequence[CaseResult], model: str) -> SuiteSummary:
    s = SuiteSummary("chat", model, len(results), latencies=[r.latency_s for r in results])
    s.metrics = _common(results)
    s.metrics.update(
        trajectory=_check_rate(results, "trajectory"),
        retrieval_recall=_check_mean(results, "retrieval"),
        context=_check_rate(results, "context"),
        safety=_check_rate(results, "safety"),
        answer=_check_rate(results, "answer"),
        answer_excludes=_check_rate(results, "answer_excludes"),
        citations=_check_rate(results, "citations"),
        citation_validity=_check_rate(results, "citation_validity"),
        # how often the graph said it does not know (no passage near the question), on the
        # questions the corpus cannot answer and on those it can
        declines_out_of_scope=_declined(results, out_of_scope=True),
        declines_in_scope=_declined(results, out_of_scope=False),
        groundedness=_check_mean(results, "groundedness"),
        first_token_p50_s=percentile(
            [r.first_token_s for r in results if r.first_token_s is not None], 50
        ),
    )
    if any("judge" in r.checks for r in results):
        s.metrics["judge"] = _check_mean(results, "judge")
    s.categories = _categories(results)
    return s


def summarize_events(results: Sequence[CaseResult], model: str) -> SuiteSummary:
    s = SuiteSummary("events", model, len(results), latencies=[r.latency_s for r in results])
    pairs = [r.decision for r in results if r.decision is not None]
    blocks = precision_recall(pairs, "block")
    s.metrics = _common(results)
    s.metrics.update(
        decision_accuracy=accuracy(pairs),
        block_precision=blocks.precision,
        block_recall=blocks.recall,
        trajectory=_check_rate(results, "trajectory"),
        screening=_check_rate(results, "screening"),
        outcome=_check_rate(results, "outcome"),
    )
    s.confusion = confusion(pairs)
    s.categories = _categories(results)
    for cat, rows in _by_category(results).items():
        s.categories[cat]["decision_accuracy"] = accuracy(
            r.decision for r in rows if r.decision is not None
        )
    return s


def _by_category(results: Iterable[CaseResult]) -> dict[str, list[CaseResult]]:
    out: dict[str, list[CaseResult]] = {}
    for r in results:
        out.setdefault(r.category, []).append(r)
    return out


def _categories(results: Sequence[CaseResult]) -> dict[str, dict[str, float]]:
    return {
        cat: {
            "cases": float(len(rows)),
            "pass_rate": rate(r.passed(model_dependent=False) for r in rows),
            "pass_rate_all": rate(r.passed(model_dependent=True) for r in rows),
            "latency_p50_s": percentile([r.latency_s for r in rows], 50),
        }
        for cat, rows in sorted(_by_category(results).items())
    }
