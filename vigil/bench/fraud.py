"""``vigil bench fraud``: screening against raw kafka-python loops, same broker, same run.

* throughput: N transactions (genuine payments of a simulated population:
  ``genuine_traffic``) consumed by a raw loop that only counts; by a raw
  consume-produce loop that does what screening must with no logic (poll, produce one
  small record per event, wait for the acks, commit); then by the fraud agent's own
  screening consumer (decode, validate, one Redis round trip per batch, a decision per
  event and a hand-off per escalation acknowledged, commit). Timed from the first
  record to the last commit;
* escalation load (``vigil.bench.fraud_load``): the whole agent, screening and its
  escalation stage, with a model that takes ``model_s`` a call: screening's throughput
  with nothing escalating and with ``escalate_share`` of the events escalating, and its
  latency at half that rate while they escalate;
* escalation path: the fraud graph up to the approval request with a model that answers
  instantly, its model time subtracted.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import numpy as np
import redis
from kafka import KafkaProducer
from rich.console import Console
from rich.table import Table

from agents.core import AgentWorker
from agents.fraud.agent import escalation
from agents.fraud.history import examples, replay
from agents.fraud.labels import LabelStore
from agents.fraud.model import RiskModel
from agents.fraud.model_store import publish_model
from agents.fraud.screening import Screener
from agents.fraud.training import train
from agents.service import freeze_heap
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import CustomerChange, Transaction
from ingestion.kafka import ensure_topics, producer_config
from ingestion.producer import EventProducer
from ingestion.profiles import RedisProfileStore
from ingestion.runner import ConsumerRunner
from ingestion.seed import seed_customers
from ingestion.simulator import SCENARIOS, Simulator
from ingestion.simulator.fraud import FraudSimulation
from vigil.bench.cpu import CpuMeter, said
from vigil.bench.fraud_load import (
    LoadResult,
    StageProcess,
    drain_rate,
    paced,
    renamed,
    traffic,
)
from vigil.bench.kafka import raw_consume, raw_consumer
from vigil.runtime.stack import Stack
from vigil.settings import Settings
from vigil.wiring.workers import worker as agent_worker

GOAL_PIPELINE_RATIO = 0.6
GOAL_LOADED_RATIO = 0.9
#: screening with its behaviour features and the risk model against screening without them
GOAL_FEATURES_RATIO = 0.8
GOAL_P99_S = 0.050
#: the paced run's first second: the feeder and the agent start together
WARM_UP_S = 1.0
BLOCK = '{"risk": 0.98, "action": "block", "rationale": "impossible travel"}'


def raw_consume_produce(settings: Settings, topic: str, out_topic: str, n: int) -> float:
    """The floor under screening: kafka-python consume, one small record produced per
    event, every ack awaited, commit; no decoding, no logic."""
    consumer = raw_consumer(settings, topic, "pipe")
    producer = KafkaProducer(**producer_config(settings))  # the delivery settings Vigil uses
    seen, first, last = 0, None, 0.0
    deadline = time.monotonic() + 300
    try:
        while seen < n and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=200)
            if not polled:
                continue
            first = first or time.monotonic()
            futures = [
                producer.send(
                    out_topic, key=r.key, value=b'{"offset":%d,"outcome":"allow"}' % r.offset
                )
                for records in polled.values()
                for r in records
            ]
            producer.flush()
            for f in futures:
                f.get()
            consumer.commit()
            seen += len(futures)
            last = time.monotonic()
    finally:
        consumer.close(autocommit=False)
        producer.close()
    if first is None or seen < n:
        raise RuntimeError(f"raw consume-produce loop read {seen} of {n} records")
    return seen / max(last - first, 1e-9)


def genuine_traffic(n: int, seed: int = 6) -> tuple[list[Transaction], list[CustomerChange]]:
    """``n`` genuine payments, in time order, of a simulated population the bench's model
    was not trained on (``bench_model``'s generator, another seed), and the population's
    profiles: the traffic a deployed model scores, so that the share it holds or
    escalates, and what that costs, is a deployment's (the basic simulator's shoppers
    are another population's habits, and a model trained on one flags several times more
    of the other)."""
    history = FraudSimulation(seed=seed, shoppers=max(500, -(-n // 45)), days=30).run()
    genuine = [p.tx for p in history.payments if not p.fraud]
    if len(genuine) < n:
        raise RuntimeError(f"the simulation made {len(genuine)} genuine payments, not {n}")
    return genuine[:n], list(history.profiles)


def _throughput(
    s: Settings, workers: tuple[AgentWorker, AgentWorker], producer: EventProducer, run: str,
    data: list[Transaction], rounds: int, console: Console, meter: CpuMeter,
) -> tuple[int, float, float, float, float]:  # fmt: skip
    """Raw consume, the raw consume-produce floor, screening on its rules, and screening
    with its behaviour features over the same ``n`` events, ``rounds`` times on fresh
    topics (the last three take turns going first, so warm-up and noise fall on each); the
    medians. A single round on this kind of machine swings by a factor of two, so one set
    of figures says little. Each screening run's CPU per event, of this process and of
    each embedded server, says where its work went (``cpu``)."""
    n = len(data)
    worker, featured = workers
    got: list[tuple[float, float, float, float]] = []
    spent: dict[int, list[dict[str, float | None]]] = {1: [], 2: []}
    for i in range(rounds):
        tag = f"{run}.{n}.{i}"
        topics = [f"bench.fraud.{k}.{tag}" for k in ("raw", "pipe", "screen", "featured")]
        raw_topic, pipe, ours, bare = topics
        ensure_topics(s, [*topics, f"{pipe}.out", s.dlq_topic(ours), s.dlq_topic(bare)])
        for j, topic in enumerate(topics):
            for t in renamed(data, f"{tag}.{j}"):  # new payments every run (own ids)
                producer.send(t, topic=topic)
            producer.flush()
        raw = raw_consume(s, raw_topic, n)
        runs: list[Callable[[], float]] = [
            partial(raw_consume_produce, s, pipe, f"{pipe}.out", n),
            partial(_screen_run, s, worker, ours, n),
            partial(_screen_run, s, featured, bare, n),
        ]
        rates: dict[int, float] = {}
        for k in (j % 3 for j in range(i, i + 3)):  # each round a turn
            before = meter.read()
            rates[k] = runs[k]()
            if k in spent:
                spent[k].append(before.per_event_us(meter.read(), n))
        floor, screened, with_features = rates[0], rates[1], rates[2]
        got.append((raw, floor, screened, with_features))
        console.print(f"{n:,} events, round {i + 1}: raw consume {raw:,.0f}/s, raw "
                      f"consume-produce {floor:,.0f}/s, screening {screened:,.0f}/s "
                      f"({screened / floor:.2f}), with behaviour features "
                      f"{with_features:,.0f}/s ({with_features / screened:.2f} of the rules' "
                      f"rate this round); CPU an event: rules {said(spent[1][-1])}; "
                      f"features + model {said(spent[2][-1])}")  # fmt: skip
    paired = statistics.median(r[3] / r[2] for r in got)
    console.print(f"features vs rules, the median of the rounds' own ratios: {paired:.2f} (the "
                  "goal is judged on the ratio of the medians)")  # fmt: skip
    console.print(f"CPU an event, median of {rounds}: screening on its rules "
                  f"{said(_median_cpu(spent[1]))}; with features + model "
                  f"{said(_median_cpu(spent[2]))}")  # fmt: skip
    raw, floor, screened, with_features = (statistics.median(r[k] for r in got) for k in range(4))
    return n, raw, floor, screened, with_features


def _median_cpu(runs: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Each process's median CPU an event over the runs (None: unknown in any)."""
    out: dict[str, float | None] = {}
    for name in runs[0] if runs else ():
        values = [r.get(name) for r in runs]
        known = [v for v in values if v is not None]
        out[name] = statistics.median(known) if len(known) == len(values) else None
    return out


def _escalation_load(
    stage: StageProcess, client: redis.Redis, load: list[Transaction], rounds: int,
    console: Console,
) -> tuple[LoadResult, LoadResult]:  # fmt: skip
    """The whole agent draining ``load`` with nothing escalating and with its share
    escalating, ``rounds`` times in alternating order; each side's median round."""
    quiet: list[LoadResult] = []
    loaded: list[LoadResult] = []
    for i in range(rounds):
        for escalate in (False, True) if i % 2 == 0 else (True, False):
            got = drain_rate(stage, client, load, escalate=escalate)
            (loaded if escalate else quiet).append(got)
        q, e = quiet[-1], loaded[-1]
        console.print(
            f"escalation load, round {i + 1}: {q.events_per_s:,.0f}/s with none escalating, "
            f"{e.events_per_s:,.0f}/s with {e.escalated} of {e.screened} escalating "
            f"({e.stage_done} graphs done by the stage meanwhile)"
        )

    def median(runs: list[LoadResult]) -> LoadResult:
        return sorted(runs, key=lambda r: r.events_per_s)[len(runs) // 2]

    return median(quiet), median(loaded)


def _screen_run(s: Settings, worker: AgentWorker, topic: str, n: int) -> float:
    """The fraud agent's own screening handler, on its own consumer (no stage running:
    escalations are handed off and wait)."""
    runner = ConsumerRunner(
        s, topic=topic, model=Transaction, handler=worker.handle,
        group=f"bench-screen-{uuid.uuid4().hex[:8]}", producer=worker.producer,
    )  # fmt: skip
    try:
        m = runner.run(count=n, timeout=600)
    finally:
        runner.close()
    if m.first_records_at is None or m.last_commit_at is None or m.processed < n:
        raise RuntimeError(f"screening processed {m.processed} of {n}")
    return m.processed / max(m.last_commit_at - m.first_records_at, 1e-9)


def bench_model(client: redis.Redis, s: Settings) -> RiskModel:
    """A risk model for the benchmark: 120 simulated shoppers' three weeks."""
    days = 21
    history = FraudSimulation(seed=5, shoppers=120, days=days).run()
    prefix = f"{s.redis_prefix}:train"
    work = s.model_copy(update={"redis_prefix": prefix, "fraud_features": True,
                                "fraud_model": False})  # fmt: skip
    rows = replay(history, Screener(client, work), LabelStore(client, prefix))
    at = history.start + timedelta(days=days)
    model, _x, _y = train(examples(rows, history.labels, at), train_until=at - timedelta(days=8),
                          held_from=at - timedelta(days=8), held_until=at - timedelta(days=2),
                          version="bench", review_s=s.fraud_card_review_s)  # fmt: skip
    return model


def run_fraud_bench(
    settings: Settings, console: Console, *, sizes: list[int], escalate_share: float = 0.02,
    model_s: float = 2.0, load_events: int = 20_000, rounds: int = 3,
) -> None:  # fmt: skip
    stack = Stack(settings)
    with stack as eff:
        meter = CpuMeter({name: srv.pid for name, srv in stack.servers.items()})
        run = uuid.uuid4().hex[:8]
        s = eff.model_copy(
            update={"redis_prefix": f"bench:{run}", "checkpoint_prefix": f"bench:{run}:cp",
                    "agents_metrics_port": None}
        )  # fmt: skip
        client = redis.Redis.from_url(s.redis_url or "")
        RedisProfileStore(client, prefix=s.redis_prefix).apply(seed_customers(500))
        producer = EventProducer.for_agents(s)  # the agents' own, as a replica makes it
        rows: list[tuple[int, float, float, float, float]] = []
        try:
            # screening on the rules alone, and with the behaviour features
            plain = agent_worker("fraud", s.model_copy(update={"fraud_features": False}),
                                 producer, client=client)  # fmt: skip
            # ... and scored by a risk model (a small one, trained here on simulated data)
            publish_model(client, s.redis_prefix, bench_model(client, s), promote=True)
            featured = agent_worker("fraud", s.model_copy(update={"fraud_features": True}),
                                    producer, client=client)  # fmt: skip
            for w in (plain, featured):  # what a started agent loads first: the model
                if w.binding.ready is not None:
                    w.binding.ready()
            freeze_heap()  # as the agent's service does once warm (every row runs after)
            for n in sizes:
                data, profiles = genuine_traffic(n)
                RedisProfileStore(client, prefix=s.redis_prefix).apply(profiles)
                rows.append(_throughput(s, (plain, featured), producer, run, data, rounds,
                                        console, meter))  # fmt: skip
            every = max(1, round(1 / escalate_share)) if escalate_share > 0 else 0
            load = traffic(load_events, 500, every)
            with StageProcess(s, model_s, run) as stage:
                quiet, loaded = _escalation_load(stage, client, load, rounds, console)
                rate = quiet.events_per_s / 2
                # five seconds of traffic (at most load_events): a shorter run measures
                # the first batches' start more than the steady pace
                paced_n = min(load_events, max(5000, round(rate * 5)))
                halves = [
                    paced(stage, client, paced_n, rate, escalate_every=every) for _ in range(rounds)
                ]
            for i, h in enumerate(halves):
                p50, p99 = _latency(h)
                console.print(f"half load, round {i + 1}: p50 {p50 * 1000:.1f} ms, p99 "
                              f"{p99 * 1000:.1f} ms from {WARM_UP_S:g} s in")  # fmt: skip
            escalation_path = _escalations(s, client, producer)
        finally:
            producer.close()
            for key in client.scan_iter(match=f"bench:{run}:*", count=1000):
                client.delete(key)
            client.close()

    table = Table(f"events (median of {rounds})", "raw consume", "raw consume-produce",
                  "screening (rules)", "features + model", "vs consume", "vs consume-produce",
                  "features vs rules", title="vigil bench fraud")  # fmt: skip
    for n, raw, floor, screened, feats in rows:
        table.add_row(f"{n:,}", f"{raw:,.0f} ev/s", f"{floor:,.0f} ev/s", f"{screened:,.0f} ev/s",
                      f"{feats:,.0f} ev/s", f"{screened / raw:.2f}", f"{screened / floor:.2f}",
                      f"{feats / screened:.2f}")  # fmt: skip
    console.print(table)
    ratio = min(r[3] / r[2] for r in rows)
    text = f"throughput: screening keeps {ratio:.0%} of the raw consume-produce loop"
    console.print(_verdict(text, ratio >= GOAL_PIPELINE_RATIO, f"{GOAL_PIPELINE_RATIO:.0%}"))
    features = min(r[4] / r[3] for r in rows)
    text = (f"behaviour features and the risk model (VIGIL_FRAUD_FEATURES): screening keeps "
            f"{features:.0%} of its rate")  # fmt: skip
    console.print(_verdict(text, features >= GOAL_FEATURES_RATIO, f"{GOAL_FEATURES_RATIO:.0%}"))
    share = loaded.escalated / max(1, loaded.screened)
    kept = loaded.events_per_s / quiet.events_per_s
    console.print(_verdict(
        f"escalation load ({share:.1%} escalating, model {model_s:g} s a call): screening "
        f"{loaded.events_per_s:,.0f}/s against {quiet.events_per_s:,.0f}/s with none, {kept:.2f}",
        kept >= GOAL_LOADED_RATIO, f"{GOAL_LOADED_RATIO:.2f}"))  # fmt: skip
    # the median round by its p99 from a second in (a running service's steady pace,
    # once the feeder and the agent's first batches have started together)
    half = sorted(halves, key=lambda h: _latency(h)[1])[len(halves) // 2]
    p50, judged = _latency(half)
    console.print(_verdict(
        f"screening latency at {rate:,.0f} ev/s (half the maximum) with "
        f"{half.escalated} of {half.screened} escalating, the median of {rounds} rounds: "
        f"p50 {p50 * 1000:.1f} ms, p99 {judged * 1000:.1f} ms from {WARM_UP_S:g} s in",
        judged < GOAL_P99_S, f"< {GOAL_P99_S * 1000:.0f} ms"))  # fmt: skip
    console.print(
        f"escalation path to the approval request, model time excluded: p50 "
        f"{statistics.median(escalation_path) * 1000:.1f} ms over {len(escalation_path)} "
        "escalations"
    )


def _latency(run: LoadResult) -> tuple[float, float]:
    """p50 and p99 from a second in (over the whole run if it ended within a second)."""
    start = min(at for at, _ in run.latencies) + WARM_UP_S
    steady = [lat for at, lat in run.latencies if at >= start]
    return _percentiles(steady or [lat for _, lat in run.latencies])


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(latencies, [50, 99])
    return float(p50), float(p99)


def _verdict(text: str, met: bool, goal: str) -> str:
    return f"{text} ({'[green]meets' if met else '[red]misses'}[/] the goal of {goal})"


def _escalations(
    s: Settings, client: redis.Redis, producer: EventProducer, n: int = 10
) -> list[float]:
    model = ScriptedChatModel(script=[BLOCK] * (n + 1))
    gateway = ModelGateway([ModelEntry("instant", model, structured="json")])
    worker = agent_worker("fraud", s, producer, client=client, gateway=gateway)
    screener = Screener(client, s)
    out: list[float] = []
    for i in range(n):
        sim = Simulator(seed=100 + i, customers=20)
        atm, coffee = SCENARIOS["london-paris"](sim)
        assert isinstance(atm, Transaction)
        assert isinstance(coffee, Transaction)
        story = [
            t.model_copy(
                update={"transaction_id": f"{t.transaction_id}-{i}", "card_id": f"card-b{i}"}
            )
            for t in (atm, coffee)
        ]
        _first, second = screener.screen(story)
        before = worker.ctx.gateway.metrics.latency_sum_s
        t0 = time.perf_counter()
        worker.escalate(escalation(second))
        elapsed = time.perf_counter() - t0
        out.append(elapsed - (worker.ctx.gateway.metrics.latency_sum_s - before))
    return out
