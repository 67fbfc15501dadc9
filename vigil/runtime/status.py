"""What the replicas report: their heartbeats in Redis, and ``vigil agents status`` built
from those and from Kafka's view of each agent's consumer group."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from tools.approvals import PendingApprovals
from vigil.settings import Settings, Stream

HEARTBEAT_S = 1.0
#: a heartbeat older than this is a replica that is gone (its key expires too)
STALE_S = 10.0


def heartbeat_key(settings: Settings, replica_id: str) -> str:
    return f"{settings.redis_prefix}:replicas:{replica_id}"


def heartbeats(settings: Settings, client: redis.Redis) -> list[dict[str, Any]]:
    """Every live replica's last heartbeat."""
    keys = sorted(client.scan_iter(match=f"{settings.redis_prefix}:replicas:*", count=500))
    out = []
    for raw in client.mget(keys) if keys else []:
        if raw is not None:
            beat = json.loads(raw)
            if time.time() - float(beat["at"]) <= STALE_S:
                out.append(beat)
    return out


def agents_status(
    settings: Settings,
    client: redis.Redis,
    agents: Sequence[str],
    stages: Mapping[str, Stream | None] | None = None,
) -> dict[str, Any]:
    """Per agent: the group's members and the partitions each owns (from Kafka), lag per
    partition, events/s and escalations (from the replicas' heartbeats), pending approvals;
    for an agent with an escalation stage (``stages``), its backlog as the broker sees it
    (records not committed by the stage's group, the oldest one's age) and what the
    replicas are running."""
    from ingestion.kafka import describe_groups

    beats = heartbeats(settings, client)
    pending = PendingApprovals.of(settings, client).pending()
    described = describe_groups(settings, [settings.group_id(a) for a in agents])
    groups = {a: group_members(described.get(settings.group_id(a), {})) for a in agents}
    out: dict[str, Any] = {}
    for name in agents:
        mine = [b for b in beats if name in b["agents"]]
        lag: dict[str, int] = {}
        for b in mine:
            lag.update(b["agents"][name]["lag"])
        replicas = [
            {
                "replica": b["replica"],
                "part": b.get("part", "all"),
                "host": b["host"],
                "pid": b["pid"],
                "partitions": b["agents"][name]["partitions"],
                "events_per_s": b["agents"][name].get("events_per_s", 0.0),
                "screened": b["agents"][name]["screened"],
                "escalated": b["agents"][name]["escalated"],
                "dead": b["agents"][name].get("dead", {}),
                "retrying": b["agents"][name].get("retrying", {}),
            }
            for b in mine
        ]
        out[name] = {
            "group": settings.group_id(name),
            "state": groups[name]["state"],
            "members": groups[name]["members"],
            "replicas": replicas,
            "lag": dict(sorted(lag.items(), key=lambda kv: int(kv[0]))),
            "events_per_s": round(sum(float(r["events_per_s"]) for r in replicas), 1),
            "escalated": sum(int(b["agents"][name]["escalated"]) for b in mine),
            "dead_lettered": sum(int(b["agents"][name].get("dead_lettered", 0)) for b in mine),
            "pending_approvals": sum(1 for p in pending if p.thread_id.startswith(f"{name}:")),
            "failing": failing(mine, name),
        }
        stage = (stages or {}).get(name)
        if stage is not None:
            out[name]["escalations"] = escalation_status(settings, name, stage, mine)
    return out


def escalation_status(
    settings: Settings, agent: str, stage: Stream, beats: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The stage's backlog from the broker (it holds with no replica running) and, from the
    heartbeats, the escalations running now."""
    from ingestion.kafka import group_backlog

    topic = settings.topic(stage)
    backlog = group_backlog(settings, settings.group_id(f"{agent}-escalations"), topic)
    age = backlog.oldest_age_s()
    parts = [b["agents"][agent].get("escalations") or {} for b in beats]
    return {
        "topic": topic,
        "backlog": backlog.records,
        "oldest_s": None if age is None else round(age, 1),
        "partitions": {str(p): n for p, n in backlog.partitions.items()},
        "running": sum(int(p.get("running", 0)) for p in parts),
        "consumers": sum(1 for p in parts if p.get("partitions")),
    }


def failing(beats: Sequence[dict[str, Any]], agent: str | None = None) -> list[str]:
    """What is wrong in these heartbeats, one line each: dead consumers (the replica is
    ending), then consumers re-reading a batch that failed (the broker or Redis is down)."""
    dead, retrying = _wrong(beats, agent)
    return dead + retrying


def _wrong(beats: Sequence[dict[str, Any]], agent: str | None) -> tuple[list[str], list[str]]:
    """(dead consumers, consumers retrying a batch), one line each."""
    dead, retrying = [], []
    for b in beats:
        parts = [(agent, b["agents"][agent])] if agent else list(b["agents"].items())
        if agent is None and b.get("ingestion"):
            parts.append(("ingestion", b["ingestion"]))
        for name, part in parts:
            for thread, why in (part.get("dead") or {}).items():
                dead.append(f"{name} on {b['replica']}: consumer {thread} died: {why}")
            for topic, why in (part.get("retrying") or {}).items():
                retrying.append(f"{name} on {b['replica']}: {topic} batch failing: {why}")
    return dead, retrying


def agents_check(settings: Settings, client: redis.Redis) -> str:
    """A readiness check of the agents, from their heartbeats: raises naming a dead
    consumer; names the ones re-reading a failed batch in its detail."""
    beats = heartbeats(settings, client)
    if not beats:
        return "no agent replica reports a heartbeat (none running, or not on this Redis)"
    dead, retrying = _wrong(beats, None)
    if dead:  # a consumer that is retrying (Redis blinked) does not make the API unready
        raise RuntimeError("; ".join(dead)[:1000])
    names = sorted({a for b in beats for a in b["agents"]})
    detail = f"; retrying: {'; '.join(retrying)}"[:500] if retrying else ""
    return f"{len(beats)} replicas alive ({', '.join(names)}){detail}"


def group_members(group: dict[str, Any]) -> dict[str, Any]:
    """Members and their partitions out of kafka-python's DescribeGroups answer. (Apache
    Kafka reports each member's assignment; Tansu leaves it empty: the replicas' own
    heartbeats say which partitions they own.)"""
    members = []
    for m in group.get("members", []) or []:
        assignment = m.get("member_assignment") or {}
        partitions: list[int] = []
        if isinstance(assignment, dict):
            for topic in assignment.get("assigned_partitions", []) or []:
                partitions += list(topic.get("partitions", []))
        members.append(
            {"member": m.get("member_id"), "client": m.get("client_id"),
             "host": m.get("client_host"), "partitions": sorted(partitions)}
        )  # fmt: skip
    return {"state": group.get("group_state") or group.get("state"), "members": members}
