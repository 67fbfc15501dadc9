"""``vigil bench reliability``: sustained traffic into the fraud agent's replicas while
things go wrong, then the books are checked.

On the embedded stack (Valkey restartable, AOF on) the fraud agent runs as replicas
(worker processes, or Ray actors with ``--ray``) while simulated traffic flows at
``--rate``, with the founding story and card testing mixed in and an analyst approving
what the labels say is fraud. On a schedule: a replica is SIGKILLed (and restarted by the
supervisor, or by Ray), Redis is restarted, replicas scale 1 -> 2, a burst of malformed
events arrives, replicas scale 2 -> 1. At the end, with the traffic stopped and the lag
drained: every produced transaction has exactly one screening decision, no block was
applied twice nor without an approval, every malformed event is in the DLQ, and the
consumer lag is zero. The counts are printed; a broken book is an exit code 1.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.table import Table

from ingestion.contracts import ApprovalResponse, BlockAction, FraudDecision, Transaction
from ingestion.dlq import DeadLetter
from ingestion.errors import WaitTimeoutError
from ingestion.kafka import read_topic
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers, seed_documents
from ingestion.simulator import SCENARIOS, Simulator
from ingestion.waiting import wait_until
from tools.approvals import PendingApprovals
from vigil.runtime.replicas import ReplicaSet, start_ray
from vigil.runtime.stack import Stack
from vigil.runtime.status import heartbeats
from vigil.settings import Settings, Stream

MALFORMED = (
    b"{not json",
    b'{"transaction_id": "m", "user_id": "u", "card_id": "4111111111111111", '
    b'"timestamp": "2026-11-03T08:00:00Z", "amount": "1", "currency": "GBP", '
    b'"merchant": "x", "channel": "card_not_present"}',
    b'{"schema_version": 7, "transaction_id": "v7"}',
)


@dataclass
class Books:
    """What was sent, and what the agent did about it."""

    produced: set[str] = field(default_factory=set)
    fraud: set[str] = field(default_factory=set)
    malformed: int = 0
    approved: set[str] = field(default_factory=set)
    faults: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Outcome:
    counts: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _feed(s: Settings, books: Books, stop: threading.Event, rate: float, seed: int) -> None:
    """Simulated traffic at ``rate`` a second, the founding story every ~5 s of it."""
    sim = Simulator(seed=seed, customers=50, rate=rate)
    every = max(1, int(rate * 5))
    n = 0
    with EventProducer(s) as producer:
        while not stop.is_set():
            started = time.monotonic()
            batch: list[Transaction] = []
            for _ in range(max(1, int(rate / 10))):
                n += 1
                if n % every == 0:
                    story = [
                        e for e in SCENARIOS["london-paris"](sim) if isinstance(e, Transaction)
                    ]
                    batch += story
                    with books.lock:
                        books.fraud.add(story[-1].transaction_id)
                else:
                    batch.append(sim.transaction())
            producer.publish(batch)
            with books.lock:
                books.produced.update(t.transaction_id for t in batch)
            stop.wait(max(0.0, 0.1 - (time.monotonic() - started)))


def _analyst(s: Settings, books: Books, stop: threading.Event) -> None:
    """Approves what is fraud and rejects the rest, through approvals.responses."""
    answered: set[str] = set()
    client = redis.Redis.from_url(s.redis_url or "")
    pending = PendingApprovals.of(s, client)
    with EventProducer(s) as producer:
        while not stop.wait(0.3):
            try:
                requests = pending.pending()
            except redis.RedisError:
                continue  # Redis is being restarted
            for req in requests:
                if req.approval_id in answered:
                    continue
                tx = str(req.proposal.get("transaction_id", ""))
                with books.lock:
                    fraud = tx in books.fraud
                    if fraud:
                        books.approved.add(tx)
                producer.publish([ApprovalResponse(
                    approval_id=req.approval_id, interrupt_id=req.interrupt_id,
                    proposal_hash=req.proposal_hash, decision="approve" if fraud else "reject",
                    analyst="bench.analyst", reason="reliability bench",
                )])  # fmt: skip
                answered.add(req.approval_id)
    client.close()


def run_reliability(
    settings: Settings,
    console: Console,
    *,
    seconds: float,
    rate: float,
    ray: str | None = None,
    seed: int = 17,
    drain_timeout: float = 240.0,
) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(settings.model_copy(update={"data_dir": Path(tmp)}))
        with stack as eff:
            outcome, books = _run(stack, eff, console, seconds, rate, ray, seed, drain_timeout)
    _print(console, outcome, books)
    return outcome


def _run(
    stack: Stack,
    eff: Settings,
    console: Console,
    seconds: float,
    rate: float,
    ray: str | None,
    seed: int,
    drain_timeout: float,
) -> tuple[Outcome, Books]:
    tag = uuid.uuid4().hex[:6]
    s = eff.model_copy(
        update={
            "redis_prefix": f"bench-rel-{tag}",
            "checkpoint_prefix": f"bench-rel-{tag}:cp",
            "kafka_session_timeout_ms": 6000,
            "kafka_heartbeat_interval_ms": 500,
            # also the group's rebalance timeout: a rebalance waits this long for a member
            # that went away without leaving (a SIGKILL mid-rebalance). At the default
            # 300 s the surviving replica sat in JoinGroup past the drain wait on a loaded
            # machine; an escalation's graph run is far shorter than a minute
            "kafka_max_poll_interval_ms": 60_000,
        }
    )
    with EventProducer(s) as producer:
        producer.publish(seed_customers(50))
        producer.publish(seed_documents())
    if ray is not None:
        start_ray(ray)
    replicas = ReplicaSet(s, ["fraud"], backend="ray" if ray else "process")
    books = Books()
    stop, analyst_stop = threading.Event(), threading.Event()
    threads = [
        threading.Thread(target=_feed, args=(s, books, stop, rate, seed), daemon=True),
        threading.Thread(target=_analyst, args=(s, books, analyst_stop), daemon=True),
    ]
    client = redis.Redis.from_url(s.redis_url or "")
    try:
        replicas.scale(1)
        wait_until(lambda: bool(heartbeats(s, client)), "the first replica", every=0.5)
        for t in threads:
            t.start()
        schedule = _schedule(s, replicas, stack, books)
        started = time.monotonic()
        for at, name, act in schedule:
            while time.monotonic() - started < at * seconds:
                replicas.supervise()
                time.sleep(0.2)
            console.print(f"[yellow]t={time.monotonic() - started:5.1f}s[/] {name}")
            act()
            books.faults.append(name)
        while time.monotonic() - started < seconds:
            replicas.supervise()
            time.sleep(0.2)
        stop.set()  # the traffic stops; the analyst keeps answering until the end
        threads[0].join(30)
        console.print("traffic stopped; waiting for the lag to drain ...")
        settle(s, client, replicas, books, drain_timeout)
        outcome = audit(s, client, books)
    finally:
        stop.set()
        analyst_stop.set()
        replicas.stop()
        client.close()
    return outcome, books


def _schedule(
    s: Settings, replicas: ReplicaSet, stack: Stack, books: Books
) -> list[tuple[float, str, Callable[[], None]]]:
    def kill() -> None:
        replicas.replicas[0].kill()

    def restart_redis() -> None:
        server = stack.servers.get("redis")
        if server is None:
            books.faults.append("(Redis is not embedded here: not restarted)")
            return
        server.stop(timeout=10)
        time.sleep(1.0)
        server.start(timeout=30)

    def burst() -> None:
        with EventProducer(s) as producer:
            futures = [producer.send_raw(s.topic(Stream.TRANSACTIONS), v) for v in MALFORMED * 10]
            producer.wait(futures)
        books.malformed += len(MALFORMED) * 10

    return [
        (0.15, "SIGKILL a replica", kill),
        (0.30, "restart Redis", restart_redis),
        (0.45, "scale 1 -> 2 replicas", lambda: replicas.scale(2)),
        (0.60, "a burst of 30 malformed events", burst),
        (0.75, "scale 2 -> 1 replica (drain)", lambda: replicas.scale(1)),
    ]


def settle(
    s: Settings, client: redis.Redis, replicas: ReplicaSet, books: Books, timeout: float
) -> None:
    """Until every produced transaction is decided, the lag is zero, and every
    escalation has its final decision (restarting dead replicas meanwhile). Giving up, it
    says which of those it still waited for."""
    left: dict[str, Any] = {}
    partitions = s.partitions(s.topic(Stream.TRANSACTIONS))

    def done() -> bool:
        left.clear()
        replicas.supervise()
        beats = heartbeats(s, client)
        owned = {p for b in beats for p in b["agents"]["fraud"]["partitions"]}
        if not beats or _fraud_lag(beats) or owned != set(range(partitions)):
            # a replica stuck joining the group owns nothing and reports no lag
            left["lag"] = {b["replica"]: b["agents"]["fraud"]["lag"] for b in beats}
            left["unowned partitions"] = sorted(set(range(partitions)) - owned)
            return False
        decisions = _decisions(s)  # one read of the topic a poll
        screened = {d.transaction_id for d in decisions if d.decided_by == "screening"}
        if not books.produced <= screened:
            left["not screened"] = sorted(books.produced - screened)[:5]
        left.update(waiting_on(s, client, decisions))
        return not left

    try:
        wait_until(
            done, "the lag to drain and every escalation to settle", timeout=timeout, every=0.5
        )
    except WaitTimeoutError as exc:
        raise WaitTimeoutError(f"{exc}; still waiting on {left}") from exc


def _fraud_lag(beats: list[dict[str, Any]]) -> int:
    return sum(sum(b["agents"]["fraud"]["lag"].values()) for b in beats)


def _decisions(s: Settings, idle_s: float = 0.5) -> list[FraudDecision]:
    records = read_topic(s, s.topic(Stream.FRAUD_DECISIONS), idle_s=idle_s)
    return [FraudDecision.model_validate_json(r.value) for r in records]


def waiting_on(
    s: Settings, client: redis.Redis, decisions: list[FraudDecision]
) -> dict[str, list[str]]:
    """The proposals waiting for an answer and the escalations without a final decision
    (the first few of each), by what they wait for."""
    left: dict[str, list[str]] = {}
    pending = sorted(r.approval_id for r in PendingApprovals.of(s, client).pending())
    if pending:
        left["pending approvals"] = pending[:5]
    escalated = {d.transaction_id for d in decisions if d.outcome == "escalate"}
    final = {d.transaction_id for d in decisions if d.event_id.startswith("final-")}
    if escalated - final:
        left["escalations without a final decision"] = sorted(escalated - final)[:5]
    return left


def audit(s: Settings, client: redis.Redis, books: Books) -> Outcome:
    decisions = _decisions(s, idle_s=1.0)
    blocks = [BlockAction.model_validate_json(r.value)
              for r in read_topic(s, s.topic(Stream.BLOCK_ACTIONS))]  # fmt: skip
    dlq = read_topic(s, s.dlq_topic(s.topic(Stream.TRANSACTIONS)))
    screening = [d for d in decisions if d.decided_by == "screening"]
    per_tx, redelivered, conflicting = screening_books(screening)
    block_ids = Counter(b.transaction_id for b in blocks)  # raw records: one block each
    problems = []
    missing = books.produced - set(per_tx)
    if missing:
        problems.append(
            f"{len(missing)} transactions without a decision, e.g. {sorted(missing)[:3]}"
        )
    if conflicting:
        problems.append(f"transactions with two different screening decisions: {conflicting[:3]}")
    twice = sorted(t for t, n in block_ids.items() if n > 1)
    if twice:
        problems.append(f"blocks applied twice: {twice[:3]}")
    unapproved = sorted(set(block_ids) - books.approved)
    if unapproved:
        problems.append(f"blocks without an approval: {unapproved[:3]}")
    unblocked = sorted(books.approved - set(block_ids))
    if unblocked:
        problems.append(f"approved but not blocked: {unblocked[:3]}")
    # a batch read again (a replica killed, a rebalance) dead-letters its records again:
    # each malformed record must be there, once or re-sent, and nothing else
    letters = [DeadLetter.from_record(r) for r in dlq]
    sources = {(d.source_topic, d.partition, d.offset) for d in letters}
    failed = [d for d in letters if d.kind == "processing"]  # no poison is sent: a fault
    if failed:
        problems.append(f"{len(failed)} valid records dead-lettered: {failed[0].reason[:200]}")
    if len(sources) != books.malformed:
        problems.append(f"{len(sources)} records in the DLQ for {books.malformed} malformed sent")
    lag = _fraud_lag(heartbeats(s, client))
    if lag:
        problems.append(f"consumer lag {lag} at the end")
    counts = {
        "transactions produced": len(books.produced),
        "with exactly one decision": sum(1 for t in books.produced if per_tx.get(t) == 1),
        "decision records re-published (same id)": redelivered,
        "fraud injected (london-paris)": len(books.fraud),
        "blocks applied": sum(block_ids.values()),
        "blocks applied twice": len(twice),
        "approvals given": len(books.approved),
        "malformed sent": books.malformed,
        "malformed in the DLQ": len(sources),
        "dead letters re-sent (batch read again)": len(letters) - len(sources),
        "valid records dead-lettered": len(failed),
        "consumer lag at the end": lag,
    }
    return Outcome(counts, problems)


def screening_books(
    screening: list[FraudDecision],
) -> tuple[Counter[str], int, list[str]]:
    """From the raw screening records: decisions per transaction (distinct contents), how
    many records were re-deliveries (the same id with the same content), and the
    transactions decided two different ways. Counting after a de-duplication by event id
    could never see a second decision: screening's ids are derived from the transaction."""
    seen: dict[str, tuple[Any, ...]] = {}
    contents: dict[str, set[tuple[Any, ...]]] = {}
    redelivered = 0
    for d in screening:
        # what was decided, not when (a re-delivery decides again, a moment later)
        content = (d.outcome, d.risk_score, tuple(d.reasons), d.approval_id, d.event_id)
        contents.setdefault(d.transaction_id, set()).add(content)
        if seen.get(d.event_id) == content:
            redelivered += 1
        seen[d.event_id] = content
    per_tx = Counter({tx: len(found) for tx, found in contents.items()})
    conflicting = sorted(tx for tx, n in per_tx.items() if n > 1)
    return per_tx, redelivered, conflicting


def _print(console: Console, outcome: Outcome, books: Books) -> None:
    table = Table("count", "value", title="reliability: the books after the faults")
    for k, v in outcome.counts.items():
        table.add_row(k, str(v))
    console.print(table)
    console.print("faults: " + "; ".join(books.faults))
    if outcome.ok:
        console.print("[green]every transaction decided exactly once; no block twice or "
                      "unapproved; every malformed event dead-lettered; lag zero[/]")  # fmt: skip
    for p in outcome.problems:
        console.print(f"[red]problem:[/] {p}")
