"""``vigil agents run|status``: the long-running agents, as threads, processes or Ray actors."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vigil.cli.common import agents_app, console, friendly, load_settings, stop_on_signals
from vigil.settings import Settings

if TYPE_CHECKING:
    from agents.service import Part
    from vigil.runtime.replicas import ReplicaSet


@agents_app.command("run")
@friendly
def agents_run(
    agent: Annotated[
        str, typer.Option(help="fraud, maintenance, monitoring, or all (comma-separated too).")
    ] = "all",
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    replicas: Annotated[
        int, typer.Option(help="Replicas (worker processes, or Ray actors with --ray).", min=1)
    ] = 1,
    ray: Annotated[
        str | None,
        typer.Option(
            help="Run the replicas as Ray actors: 'local' (a Ray on 127.0.0.1) or a "
            "cluster address (ray://host:10001, or host:6379)."
        ),
    ] = None,
    escalation_workers: Annotated[
        int,
        typer.Option(
            help="Processes (or Ray actors) running the agents' escalation stages (their "
            "graphs, approval answers, deadlines) apart from screening; 0: inside every "
            "replica.",
            min=0,
            max=64,
        ),
    ] = 1,
) -> None:
    """Run agents and the context ingestion until Ctrl-C / SIGTERM.

    With --replicas N (or --ray) every replica is a process of its own (or a Ray actor)
    and a member of each agent's consumer group; dead replicas are restarted, and Ctrl-C
    drains them (batch finished, committed, group left). The escalation stages run in
    --escalation-workers processes of their own (supervised alike), so a graph's CPU never
    holds up screening.
    """
    from agents.registry import select, spec  # the agents and their graphs: loaded when used
    from vigil.runtime.replicas import EXIT_DEAD_CONSUMER, Replica, ReplicaSet
    from vigil.runtime.stack import discover

    names = select(agent)
    settings = discover(load_settings())
    if "fraud" in names and settings.redis_url:
        from vigil.wiring.fraud_models import ensure_model

        ensure_model(settings, console)  # the first run with features on trains one
    staged = [n for n in names if spec(n).stage is not None] if escalation_workers else []
    stages = ReplicaSet(settings, staged, backend="ray" if ray else "process", ingest=False,
                        part="escalations")  # fmt: skip
    part: Part = "events" if staged else "all"
    if replicas > 1 or ray is not None:
        _run_replicas(settings, names, replicas, ray, timeout, part, stages, escalation_workers)
        return
    with stop_on_signals() as stop:
        # one replica in this process: it beats to Redis like any other (status, /ready)
        replica = Replica(settings, names, f"{socket.gethostname()}-{os.getpid()}", part=part)
        stages.scale(escalation_workers if staged else 0)
        console.print(f"agents running: {', '.join(names)} (and ingestion); Ctrl-C stops")
        if staged:
            console.print(f"escalations of {', '.join(staged)}: {escalation_workers} worker "
                          "processes")  # fmt: skip
        deadline = None if timeout is None else time.monotonic() + timeout
        ticks = 0
        while not stop.wait(0.5) and not replica.failed.is_set():
            ticks += 1
            if ticks % 4 == 0:
                for rid in stages.supervise():
                    console.print(f"[yellow]{rid} died: restarted[/]")
            if deadline is not None and time.monotonic() >= deadline:
                break
        replica.drain()
        _stop_stages(settings, stages)
    for service in replica.services:
        m = service.worker.metrics
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(m.outcomes.items())) or "none"
        console.print(
            f"{service.name}: screened {m.screened}, escalated {m.escalated}, approved "
            f"{m.approved}, rejected {m.rejected}, expired {m.expired}; outcomes: {outcomes}"
        )
    if replica.failed.is_set():
        dead = "; ".join(f"{k}: {v}" for k, v in replica.dead().items())
        console.print(f"[red]a consumer died ({dead}): stopping so a supervisor restarts it")
        raise typer.Exit(EXIT_DEAD_CONSUMER)


def _run_replicas(
    settings: Settings, names: list[str], n: int, ray: str | None, timeout: float | None,
    part: Part, stages: ReplicaSet, workers: int,
) -> None:  # fmt: skip
    from vigil.runtime.replicas import ReplicaSet, start_ray
    from vigil.runtime.status import heartbeats
    from vigil.wiring.clients import redis_client

    if ray is not None:
        start_ray(ray)
    replicas = ReplicaSet(settings, names, backend="ray" if ray else "process", part=part)
    client = redis_client(settings)
    with stop_on_signals() as stop:
        replicas.scale(n)
        stages.scale(workers if stages.agents else 0)
        where = f"Ray actors ({ray})" if ray else "worker processes"
        console.print(f"{n} replicas of {', '.join(names)} as {where}; Ctrl-C drains them")
        if stages.agents:
            console.print(f"escalations of {', '.join(stages.agents)}: {workers} {where}")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not stop.wait(2.0):
            for rid in replicas.supervise() + stages.supervise():
                console.print(f"[yellow]{rid} died: restarted[/]")
            if deadline is not None and time.monotonic() >= deadline:
                break
        console.print("draining the replicas (finishing and committing their batches) ...")
        beats = {b["replica"]: b for b in heartbeats(settings, client)}
        replicas.stop()
        stages.stop()
    for rid, beat in sorted(beats.items()):
        console.print(f"{rid}: {_counts(beat)}")
    console.print(f"restarts by the supervisor: {replicas.restarts + stages.restarts}")


def _counts(beat: dict[str, Any]) -> str:
    """A replica's counters from its heartbeat: screening's, or its escalations'."""
    if beat.get("part") == "escalations":
        return ", ".join(
            f"{a} escalations done {(v.get('escalations') or {}).get('done', 0)}, approved "
            f"{v['approved']}, rejected {v['rejected']}, expired {v['expired']}"
            for a, v in beat["agents"].items()
        )
    return ", ".join(f"{a} screened {v['screened']}" for a, v in beat["agents"].items())


def _stop_stages(settings: Settings, stages: ReplicaSet) -> None:
    """Drain the escalation workers, and say what they did."""
    from vigil.runtime.status import heartbeats
    from vigil.wiring.clients import redis_client

    if not stages.replicas:
        return
    client = redis_client(settings)
    try:
        beats = [b for b in heartbeats(settings, client) if b.get("part") == "escalations"]
    finally:
        client.close()
    stages.stop()
    for beat in sorted(beats, key=lambda b: str(b["replica"])):
        console.print(f"{beat['replica']}: {_counts(beat)}")


@agents_app.command("status")
@friendly
def agents_status(
    agent: Annotated[str, typer.Option(help="fraud, maintenance, monitoring, or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Members of each agent's group and their partitions, lag, events/s, escalations,
    pending approvals."""
    from agents.registry import select, spec  # the agents and their graphs: loaded when used
    from vigil.runtime.stack import discover
    from vigil.runtime.status import agents_status as status
    from vigil.wiring.clients import redis_client

    names = select(agent)
    settings = discover(load_settings())
    if "fraud" in names and settings.redis_url:
        from vigil.wiring.fraud_models import ensure_model

        ensure_model(settings, console)  # the first run with features on trains one
    stages = {n: spec(n).stage for n in names}
    report = status(settings, redis_client(settings), names, stages)
    if as_json:
        console.print_json(json.dumps(report))
        return
    for name, s in report.items():
        title = f"{name}: group {s['group']} ({s['state'] or 'no members'})"
        table = Table("member / replica", "host", "partitions", "events/s", "screened",
                      "escalated", title=title)  # fmt: skip
        for r in s["replicas"]:
            table.add_row(r["replica"], f"{r['host']} pid {r['pid']}",
                          ",".join(map(str, r["partitions"])) or "-", f"{r['events_per_s']:g}",
                          str(r["screened"]), str(r["escalated"]))  # fmt: skip
        for m in s["members"]:
            if not any(r["partitions"] == m["partitions"] for r in s["replicas"]):
                table.add_row(str(m["client"]), str(m["host"]),
                              ",".join(map(str, m["partitions"])) or "-", "", "", "")  # fmt: skip
        console.print(table)
        lag = ", ".join(f"p{p}: {n}" for p, n in s["lag"].items()) or "none reported"
        console.print(f"  lag {lag}; {s['events_per_s']:g} events/s; {s['escalated']} "
                      f"escalated; {s['pending_approvals']} pending approvals")  # fmt: skip
        esc = s.get("escalations")
        if esc is not None:
            oldest = "none waiting" if esc["oldest_s"] is None else f"oldest {esc['oldest_s']:g} s"
            console.print(f"  escalations ({esc['topic']}): backlog {esc['backlog']}, {oldest}; "
                          f"{esc['running']} running on {esc['consumers']} consumers")  # fmt: skip
        for line in s["failing"]:
            console.print(f"  [red]failing: {line}[/]")
