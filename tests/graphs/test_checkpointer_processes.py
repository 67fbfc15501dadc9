"""Graph state shared across processes: pause in one, resume in another, finish in a third."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import redis

from graphs.checkpointer import RedisSaver
from tests.conftest import ROOT, clean_env


def stage(url: str, prefix: str, *args: str) -> dict[str, Any]:
    env = clean_env()
    env.update({"VIGIL_REDIS_URL": url, "VIGIL_CHECKPOINT_PREFIX": prefix})
    res = subprocess.run(
        [sys.executable, "-m", "tests.graphs.approval_proc", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    out: dict[str, Any] = json.loads(res.stdout.splitlines()[-1])
    return out


def test_interrupt_resume_and_finish_in_three_processes(server_url: str, cp_prefix: str) -> None:
    a = stage(server_url, cp_prefix, "start", "fraud:tx-2")
    assert a["next"] == ["first_review"]
    [pending] = a["interrupts"]
    assert pending["value"] == {"step": "first", "request": "block tx-2"}

    b = stage(server_url, cp_prefix, "resume", "fraud:tx-2", "approve")
    assert b["resumed"] == pending["id"], "B resumed the interrupt A left, found from Redis"
    assert b["values"]["decisions"] == ["first:approve"]
    assert b["next"] == ["escalation"], "paused again, inside the subgraph"
    [again] = b["interrupts"]
    assert again["value"]["step"] == "second"
    assert again["id"] != pending["id"]

    c = stage(server_url, cp_prefix, "resume", "fraud:tx-2", "approve-2")
    assert c["resumed"] == again["id"]
    assert c["next"] == []
    assert c["interrupts"] == []
    assert c["values"]["decisions"] == ["first:approve", "second:approve-2"]
    assert c["values"]["note"] == "done"
    assert c["values"]["pids"] == [b["pid"], c["pid"], c["pid"]]
    assert len({a["pid"], b["pid"], c["pid"]}) == 3
    # history is whole: every step from A's input to C's finish, newest first
    assert [h["step"] for h in c["history"]] == [3, 2, 1, 0, -1]
    assert c["history"][-1]["source"] == "input"

    saver = RedisSaver(redis.Redis.from_url(server_url), prefix=cp_prefix)
    namespaces = {
        t.config["configurable"]["checkpoint_ns"]
        for t in saver.list({"configurable": {"thread_id": "fraud:tx-2"}})
    }
    assert "" in namespaces
    assert any(ns.startswith("escalation:") for ns in namespaces), namespaces
