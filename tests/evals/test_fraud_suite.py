"""The fraud suite on a real Redis, in small: every figure measured, the report's table
and chart; and ``vigil fraud train / promote / models`` as a user runs them."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evals.fraud import NAME, FraudEvalConfig, run_fraud_suite
from evals.gate import Thresholds, failures, judge
from evals.report import write_reports
from evals.runner import EvalRun
from tests.conftest import base_settings, clean_env, run_vigil

SMALL = FraudEvalConfig(shoppers=80, days=14, train_days=10, gap_days=1, held_days=3)


def test_the_suite_measures_every_figure_and_reports_them(
    redis_client: tuple[Any, str], tmp_path: Path
) -> None:
    client, prefix = redis_client
    summary = run_fraud_suite(client, base_settings(redis_prefix=prefix.rstrip(":")), SMALL)
    m = summary.metrics
    for name in ("recall", "false_flags", "precision", "pr_auc", "cards_by_third",
                 "analyst_per_hour", "holds_per_hour", "scenario_min_recall"):  # fmt: skip
        assert not math.isnan(m[name]), name
        assert m[name] >= 0
    assert m["frauds"] >= 10
    assert m["payments"] == summary.cases
    assert sum(sum(row.values()) for row in summary.confusion.values()) == summary.cases
    assert summary.confusion["fraud"]["allow"] < m["frauds"]  # it catches some
    assert len(summary.categories) >= 3  # scenarios seen in the test days
    run = EvalRun("t", datetime.now(UTC), [NAME], ["fraud"], summaries=[summary])
    paths = write_reports(run, tmp_path, [])
    md = paths["markdown"].read_text()
    assert "fraud: recall per scenario" in md
    first = sorted(summary.categories)[0]
    assert f"| {first} |" in md
    assert "| fraud | " in md  # the truth x decision table
    assert "fraud: share of fraudulent payments caught, per scenario" in paths["html"].read_text()


@pytest.mark.timeout(600)
def test_the_full_suite_clears_the_gate(redis_client: tuple[Any, str]) -> None:
    """The month ``vigil eval --suite fraud`` runs, judged by ``evals/thresholds.yaml``
    (about 30 s; seeded, so the same figures every run)."""
    client, prefix = redis_client
    thresholds = Thresholds.load()
    summary = run_fraud_suite(client, base_settings(redis_prefix=prefix.rstrip(":")))
    figures = {f"fraud.{k}": v for k, v in summary.metrics.items()}
    verdicts = judge(figures, NAME, thresholds)
    assert {v.metric for v in verdicts} == {m for m in thresholds.gated if m.startswith("fraud.")}
    assert failures(verdicts) == [], [v.line for v in verdicts]
    assert figures["fraud.recall"] >= 0.8
    assert figures["fraud.false_flags"] <= 0.01


@pytest.mark.timeout(300)
def test_vigil_fraud_train_promote_and_models(redis_url: str, tmp_path: Path, uid: str) -> None:
    env = clean_env() | {"VIGIL_DATA_DIR": str(tmp_path / "data"), "VIGIL_REDIS_URL": redis_url,
                         "VIGIL_REDIS_PREFIX": f"cli{uid}"}  # fmt: skip
    small = ("--shoppers", "80", "--days", "14")
    done = run_vigil("fraud", "train", "--version", "one", *small, "--promote", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model one promoted (PR-AUC" in done.stdout
    assert (tmp_path / "data" / "fraud" / "models" / "one" / "model.txt").is_file()
    again = run_vigil("fraud", "train", "--version", "one", *small, env=env)
    assert again.returncode == 2
    assert "model one exists already" in again.stderr
    listed = run_vigil("fraud", "models", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "one" in listed.stdout
    assert "yes" in listed.stdout  # promoted
    bad = run_vigil("fraud", "promote", "../../etc", env=env)
    assert bad.returncode == 2
    assert "a model version is" in bad.stderr
    missing = run_vigil("fraud", "promote", "three", env=env)
    assert missing.returncode == 2
    assert "no model three" in missing.stderr
