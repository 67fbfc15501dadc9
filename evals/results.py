"""What one case's run produced, and which of its checks the gate may hold against it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evals.scorers import Score

#: checks that do not depend on what the model writes: gated, with any model
MODEL_INDEPENDENT = frozenset(
    {
        "decision",
        "outcome",
        "screening",
        "trajectory",
        "retrieval",
        "context",
        "safety",
        "citation_validity",
        "asset",
        "priority",
        "recipients",
        "escalated",
        "outputs",
        "dead_letters",
        "stream",
    }
)
#: checks of the model's own words: reported; gated only for real models, if configured
MODEL_DEPENDENT = frozenset({"answer", "answer_excludes", "citations", "groundedness", "judge"})


@dataclass
class CaseResult:
    suite: str
    case_id: str
    category: str
    model: str
    checks: dict[str, Score] = field(default_factory=dict)
    #: (expected, predicted) decision, for event cases
    decision: tuple[str, str] | None = None
    trajectory: list[str] = field(default_factory=list)
    latency_s: float = 0.0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    first_token_s: float | None = None
    answer: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def check(self, name: str, score: Score) -> None:
        if name not in MODEL_INDEPENDENT | MODEL_DEPENDENT:
            raise ValueError(f"unknown check {name!r}: declare whether it depends on the model")
        self.checks[name] = score

    def passed(self, *, model_dependent: bool) -> bool:
        """All model-independent checks passed (and the model's own ones, if asked)."""
        if self.error is not None:
            return False
        names = MODEL_INDEPENDENT | (MODEL_DEPENDENT if model_dependent else frozenset())
        return all(s.passed for n, s in self.checks.items() if n in names)

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "case_id": self.case_id,
            "category": self.category,
            "model": self.model,
            "passed": self.passed(model_dependent=False),
            "passed_all": self.passed(model_dependent=True),
            "checks": {k: v.as_dict() for k, v in sorted(self.checks.items())},
            "decision": list(self.decision) if self.decision else None,
            "trajectory": self.trajectory,
            "latency_s": round(self.latency_s, 4),
            "model_calls": self.model_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "first_token_s": None if self.first_token_s is None else round(self.first_token_s, 4),
            "answer": self.answer,
            "details": self.details,
            "error": self.error,
        }

    def add_model_calls(self, calls: list[dict[str, Any]]) -> None:
        self.model_calls += len(calls)
        self.input_tokens += sum(int(c.get("input_tokens") or 0) for c in calls)
        self.output_tokens += sum(int(c.get("output_tokens") or 0) for c in calls)
        firsts = [float(c["first_token_s"]) for c in calls if c.get("first_token_s") is not None]
        if firsts and self.first_token_s is None:
            self.first_token_s = firsts[0]
