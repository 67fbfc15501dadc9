"""The run against a baseline (``evals/baseline.json``): which figures got better, which
worse, and which stayed the same within the noise of these machines."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.runner import EvalRun

#: relative change under which a timing is noise, not a verdict
NOISE = 0.10


@dataclass(frozen=True)
class Change:
    metric: str
    before: float
    after: float
    verdict: str  # better | worse | same

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "before": self.before,
            "after": self.after,
            "verdict": self.verdict,
        }


#: figures are kept in the baseline to this many decimals, so a smaller change is no change
DECIMALS = 4


def _lower_is_better(metric: str) -> bool:
    if metric.endswith("_per_s"):  # a rate (events/s): more is better
        return False
    return metric.endswith(("_s", "errors", "tokens_per_case", "model_calls_per_case"))


def compare(figures: dict[str, float], baseline: dict[str, float]) -> list[Change]:
    """Each figure the baseline also has, judged better, worse or the same. Timings and
    rates (``_s``, ``_per_s``) within :data:`NOISE` of the baseline are the same: these
    machines are noisy."""
    out = []
    for metric in sorted(set(figures) & set(baseline)):
        after, before = figures[metric], baseline[metric]
        if any(math.isnan(v) for v in (after, before)) or metric.endswith(".cases"):
            continue
        delta = round(after, DECIMALS) - round(before, DECIMALS)
        noisy = metric.endswith("_s")
        if abs(delta) < 10**-DECIMALS / 2 or (noisy and abs(delta) <= NOISE * abs(before)):
            verdict = "same"
        elif (delta < 0) == _lower_is_better(metric):
            verdict = "better"
        else:
            verdict = "worse"
        out.append(Change(metric, before, after, verdict))
    return out


def load_baseline(path: Path) -> dict[str, float]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: float(v) for k, v in data.get("figures", {}).items() if v is not None}


def save_baseline(run: EvalRun, model: str, path: Path) -> None:
    figures = {
        k: (None if math.isnan(v) else round(v, DECIMALS))
        for k, v in sorted(run.figures(model).items())
    }
    doc = {
        "version": 1,
        "model": model,
        "run_id": run.run_id,
        "created": run.started_at.isoformat(),
        "figures": figures,
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
