"""The demo's waits say what they wait for and for how long (no silent terminal)."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from ingestion.errors import WaitTimeoutError
from vigil import demo


def test_a_long_wait_off_a_terminal_prints_what_it_waits_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "NOTE_AFTER_S", 0.2)
    monkeypatch.setattr(demo, "NOTE_EVERY_S", 0.3)
    out = io.StringIO()
    console = Console(file=out, width=200)
    t0 = time.monotonic()
    demo.await_(console, lambda: time.monotonic() - t0 > 0.9, "the approval request", timeout=5)
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 4
    assert all("waiting for the approval request" in line for line in lines)
    assert "(gives up after 5 s)" in lines[0]
    quick = io.StringIO()
    demo.await_(Console(file=quick), lambda: True, "John's profile")
    assert quick.getvalue() == ""  # a short wait says nothing


def test_a_wait_on_a_terminal_shows_a_live_status_and_still_gives_up() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with pytest.raises(WaitTimeoutError, match="the work order after 1 s"):
        demo.await_(console, lambda: False, "the work order", timeout=0.6)
    assert "waiting for the work order" in out.getvalue()
