"""The release gate with the offline model: every suite, real servers, the local SmolLM2,
on the stratified sample (``evals.sample``: every category, decision and kind of check,
every gated figure measured; the full set is ``vigil eval``'s).

Model-independent figures (decisions, trajectories, retrieval, what the model is given,
safety, the golden stream's exactly-once) must clear ``evals/thresholds.yaml``; what the
model writes is reported, never gated offline. The report opens in Chromium and shows
its charts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.gate import Thresholds, failures
from evals.report import write_reports
from evals.runner import Selection, run_evals
from tests.conftest import chromium

# every suite's sample with the local model, about 20 model calls (the full set: over 100)
pytestmark = [pytest.mark.slow, pytest.mark.real_model, pytest.mark.timeout(900)]


def test_the_offline_model_clears_the_gate_and_the_report_shows_it(env_for, tmp_path: Path) -> None:
    # the gate reads what the graphs decide and retrieve, not how long the offline model
    # writes: SmolLM2 often runs on to its limit (512); 160 is plenty here (the suite's
    # longest test: 190-210 s in CI at 256)
    env = env_for(["local"], max_tokens=160)
    thresholds = Thresholds.load()
    # the fraud suite runs no language model: tests/evals/test_fraud_suite.py gates it, on
    # the other worker
    run = run_evals(env, ["local"], Selection(("chat", "events", "streams"), sample=True),
                    thresholds)  # fmt: skip
    lines = [v.line for v in run.verdicts]
    assert failures(run.verdicts) == [], "\n".join(lines)
    # every gated figure of every suite was measured on the sample, and judged
    assert {v.metric for v in run.verdicts if v.gated and v.value is not None} == {
        m for m in thresholds.gated if not m.startswith("fraud.")
    }
    figures = run.figures("local")
    assert figures["chat.category.injection.pass_rate"] == 1.0
    assert figures["events.block_precision"] == 1.0
    assert figures["streams.exactly_once"] == 1.0
    # ... and not vacuously: the sample has blocks to find, found them, and applied them once
    [events] = [s for s in run.summaries if s.suite == "events"]
    assert events.confusion["block"]["block"] >= 1
    [stream] = run.streams
    assert stream.counts["blocks"] >= 1
    assert stream.counts["dlq"] == stream.counts["malformed"] >= 1
    # the model's own words are measured, not gated, offline
    assert "chat.answer" in figures
    assert all(not v.gated for v in run.verdicts if v.metric == "chat.answer")
    assert all(r.error is None for r in run.results), [r.error for r in run.results if r.error]
    paths = write_reports(run, tmp_path / "report", [])
    md = paths["markdown"].read_text()
    assert "chat: per category" in md
    assert "| injection |" in md
    assert "events: decisions, local" in md
    with chromium() as browser:
        page = browser.new_page()
        page.goto(paths["html"].as_uri())
        assert page.text_content("#gate") == "PASS"
        charts = page.locator("svg.chart")
        # pass rates and latency per suite, the decisions of the events and of the stream
        assert charts.count() == 6
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None
            assert box["width"] > 200
            assert box["height"] > 100
        assert page.locator("svg.chart rect").count() > 50
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
