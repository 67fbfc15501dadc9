"""Failpoints: read VIGIL_FAILPOINT once per process, die exactly at the named point."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingestion import failpoints
from tests.conftest import ROOT, clean_env

CHILD = "from ingestion.failpoints import failpoint; failpoint('elsewhere'); print('passed'); "


def child(point: str | None, then: str) -> subprocess.CompletedProcess[str]:
    env = clean_env()
    if point is not None:
        env["VIGIL_FAILPOINT"] = point
    return subprocess.run(
        [sys.executable, "-c", CHILD + f"failpoint({then!r}); print('survived')"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


def test_a_child_process_dies_at_its_failpoint_and_only_there() -> None:
    killed = child("after_block", "after_block")
    assert killed.returncode == -9
    assert killed.stdout.split() == ["passed"]
    unarmed = child(None, "after_block")
    assert (unarmed.returncode, unarmed.stdout.split()) == (0, ["passed", "survived"])


def test_the_variable_is_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_FAILPOINT", "after_model")
    failpoints.reset()
    assert failpoints.armed() == "after_model"
    monkeypatch.setenv("VIGIL_FAILPOINT", "before_commit")
    assert failpoints.armed() == "after_model"  # cached: hot paths do not read os.environ
    failpoints.reset()
    assert failpoints.armed() == "before_commit"
    monkeypatch.delenv("VIGIL_FAILPOINT")
    failpoints.reset()
    assert failpoints.armed() is None
    failpoints.failpoint("before_commit")  # unarmed: returns
