"""The benchmarks' CPU meter reads real processes' CPU time (``vigil.bench.cpu``)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from vigil.bench.cpu import SELF, CpuMeter, Reading, process_cpu_s, said

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

_SPIN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_a_server_that_works_shows_its_cpu_and_one_that_sleeps_does_not() -> None:
    busy = subprocess.Popen([sys.executable, "-c", _SPIN.format(s=0.5) + "time.sleep(30)"])
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        meter = CpuMeter({"busy": busy.pid, "idle": idle.pid})
        start = meter.read()
        deadline = time.monotonic() + 20
        while (process_cpu_s(busy.pid) or 0.0) < 0.45 and time.monotonic() < deadline:
            time.sleep(0.05)
        spent = start.per_event_us(meter.read(), events=1000)
    finally:
        busy.kill()
        idle.kill()
        busy.wait()
        idle.wait()
    # about 0.5 s of its own (less what it spent starting before the first reading)
    busy_us, idle_us, own_us = spent["busy"], spent["idle"], spent[SELF]
    assert busy_us is not None
    assert 200 <= busy_us <= 700
    assert idle_us is not None
    assert idle_us < 50
    assert own_us is not None
    assert own_us >= 0


def test_a_process_counts_the_children_it_waited_for() -> None:
    # a parent that runs a spinning child to its end, then sleeps: its time is the child's
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {_SPIN.format(s=0.4)!r}])\n"
        "print('done', flush=True)\ntime.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == b"done"
        cpu = process_cpu_s(parent.pid)
    finally:
        parent.kill()
        parent.wait()
    assert cpu is not None
    assert cpu >= 0.35


def test_unknown_processes_read_as_unknown_not_as_zero() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert process_cpu_s(gone.pid) is None
    start = Reading({"redis": 1.0, "kafka": None, SELF: 2.0})
    later = Reading({"redis": 1.5, "kafka": 3.0, SELF: None})
    spent = start.per_event_us(later, events=10_000)
    assert spent == {"redis": pytest.approx(50.0), "kafka": None, SELF: None}
    assert start.per_event_us(later, events=0)["redis"] is None
    assert said(spent) == "redis 50 us, kafka ? us, vigil ? us"
