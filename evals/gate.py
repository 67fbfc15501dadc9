"""The release gate: figures against the thresholds kept in ``evals/thresholds.yaml``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evals.cases import EvalCaseError

#: figures that must stay at or under their threshold (everything else: at or over)
AT_MOST = ("errors", "false_flags", "frauds_before_caught")


@dataclass(frozen=True)
class Thresholds:
    gated: dict[str, float]
    real_model: dict[str, float]

    @classmethod
    def load(cls, path: Path | None = None) -> Thresholds:
        file = path or Path(str(resources.files("evals") / "thresholds.yaml"))
        data: Any = yaml.safe_load(file.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != 1:
            raise EvalCaseError(f"{file.name}: expected version 1 with `gated` figures")
        return cls(
            {k: float(v) for k, v in (data.get("gated") or {}).items()},
            {k: float(v) for k, v in (data.get("real_model") or {}).items()},
        )


@dataclass(frozen=True)
class Verdict:
    model: str
    metric: str
    value: float | None
    threshold: float
    passed: bool
    gated: bool

    @property
    def line(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4g}"
        sign = "<=" if self.metric.endswith(AT_MOST) else ">="
        state = "ok" if self.passed else "FAIL"
        kind = "" if self.gated else " (reported, not gated)"
        need = f"needs {sign} {self.threshold:g}"
        return f"{state:4} {self.model}: {self.metric} = {shown} ({need}){kind}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "passed": self.passed,
            "gated": self.gated,
        }


def is_real(model: str) -> bool:
    """A model that is not the offline default (nor a scripted stand-in)."""
    return model not in ("local",) and not model.startswith("scripted")


def judge(figures: dict[str, float], model: str, thresholds: Thresholds) -> list[Verdict]:
    """Every threshold whose suite ran: gated ones, and the real-model ones (gated only
    for real models). A figure that should be there and is not (NaN) fails."""
    suites = {name.split(".", 1)[0] for name in figures}
    out: list[Verdict] = []
    for table, gated in ((thresholds.gated, True), (thresholds.real_model, is_real(model))):
        for metric, threshold in sorted(table.items()):
            if metric.split(".", 1)[0] not in suites:
                continue
            value = figures.get(metric)
            if value is None or math.isnan(value):
                out.append(Verdict(model, metric, None, threshold, False, gated))
                continue
            ok = value <= threshold if metric.endswith(AT_MOST) else value >= threshold
            out.append(Verdict(model, metric, value, threshold, ok, gated))
    return out


def failures(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.gated and not v.passed]
