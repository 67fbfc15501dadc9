"""``vigil eval`` as a user runs it: offline on the embedded stack; and with a real model
named in VIGIL_LLM (an OpenAI-compatible server, llama.cpp's, on 127.0.0.1), side by side
with the offline one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import clean_env, run_vigil
from vigil.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.real_model, pytest.mark.timeout(1200)]


def test_vigil_eval_runs_offline_on_the_embedded_stack(tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = clean_env() | {"VIGIL_DATA_DIR": str(tmp_path / "data")}
    done = run_vigil("eval", "--suite", "events", "--cases", "travel-london-paris-*",
                     "--out", str(out), env=env, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gate: PASS" in done.stdout
    assert "against the baseline" in done.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["models"] == ["local"]
    assert result["passed"] is True
    cases = {c["case_id"]: c for c in result["cases"]}
    assert set(cases) == {"travel-london-paris-40s", "travel-london-paris-rejected",
                          "travel-london-paris-no-answer"}  # fmt: skip
    assert cases["travel-london-paris-40s"]["decision"] == ["block", "block"]
    assert cases["travel-london-paris-40s"]["model_calls"] >= 1  # the local model assessed it
    assert "<svg" in (out / "report.html").read_text()
    assert "| impossible_travel |" in (out / "report.md").read_text()


def test_an_unknown_suite_is_a_clear_error() -> None:
    done = run_vigil("eval", "--suite", "vibes")
    assert done.returncode == 2
    assert "unknown suite vibes" in done.stderr


def test_a_real_model_runs_beside_the_offline_one_and_is_judged(
    openai_compatible: str, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    real = f"openai-compatible:smollm2@{openai_compatible}"
    env = clean_env() | {
        "VIGIL_LLM": real,
        "VIGIL_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "VIGIL_REDIS_URL": settings.redis_url or "",
        "VIGIL_DATA_DIR": str(tmp_path / "data"),
        # a shared 2-core machine can take over a minute for one 700-token prompt
        "VIGIL_LLM_TIMEOUT_S": "300",
        # what is tested is who answers and who is judged, not how long the answers are:
        # SmolLM2 often runs on to its limit, and every token of it is the test's time
        # (230 s at 256 on a 2-core CI machine); a judge's verdict is under 100 tokens
        "VIGIL_LLM_MAX_TOKENS": "160",
    }
    # one case: each model answers it, the real model judges both answers
    done = run_vigil("eval", "--suite", "chat", "--cases", "ctx-founding-question",
                     "--out", str(out), "--no-gate", env=env, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["models"] == ["local", real]
    by_model = {s["model"]: s for s in result["summaries"]}
    assert set(by_model) == {"local", real}
    for summary in by_model.values():  # per-category figures for each model
        assert set(summary["categories"]) == {"customer_context"}
        assert summary["metrics"]["trajectory"] == 1.0
    # the real model's answers were judged, and its own words are gated; the offline one's not
    judged = [c for c in result["cases"] if "judge" in c["checks"]]
    assert {c["model"] for c in judged} == {"local", real}
    gated_answer = {
        (v["model"], v["gated"]) for v in result["gate"] if v["metric"] == "chat.answer"
    }
    assert gated_answer == {("local", False), (real, True)}
    md = (out / "report.md").read_text()
    assert f"{real} pass" in md
    assert "local pass" in md
