"""``vigil demo``: the founding story on the embedded stack, end to end.

Every run can be played again on the same data folder, where Valkey keeps its AOF and
the lake its files. Each run tags its events with a run id of its own, so its story is
new events, not re-deliveries that the agents' idempotency would (rightly) ignore; it
waits for, and prints, only what its own events caused. Two things an earlier run leaves
behind would change the story, so the demo resets them and says so: the last sighting of
John's card (the earlier run's Paris cafe would make the London ATM impossible travel)
and pump-03's open degradation episode (no second work order until a repair is logged;
the demo logs one, as the technician would).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from agents.maintenance.features import FeatureStore
from ingestion.contracts import (
    Alert,
    ApprovalRequest,
    BlockAction,
    MonitoringSignal,
    Transaction,
    WorkOrder,
)
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers, seed_documents
from ingestion.simulator import SCENARIOS, Simulator, new_run_id
from ingestion.simulator.world import DEGRADING_ASSET
from ingestion.waiting import wait_until
from tools.card_locations import CardLocationStore
from vigil.runtime.stack import Stack
from vigil.settings import Settings, Stream
from vigil.simulate import Produced, SimPlan, plan_events, produce
from vigil.wiring.clients import redis_client
from vigil.wiring.feeds import ingestion
from vigil.wiring.fraud_models import ensure_model
from vigil.wiring.inbox import decide
from vigil.wiring.workers import agent as build_agent

M = TypeVar("M", bound=BaseModel)

#: off a terminal (a log, a pipe) a wait shows up as a line after this long, then again
#: every NOTE_EVERY_S; on a terminal a live status counts the seconds
NOTE_AFTER_S = 5.0
NOTE_EVERY_S = 15.0


def run_demo(
    settings: Settings, console: Console, *, interactive: bool = False, all_agents: bool = False
) -> None:
    console.rule("[bold]Vigil demo: the founding story")
    run = new_run_id()
    with Stack(settings) as eff, EventProducer(eff) as producer:
        console.print(
            f"Kafka {eff.kafka_bootstrap}   Redis {eff.redis_url}   data {eff.data_dir}   run {run}"
        )

        ensure_model(eff, console)  # with VIGIL_FRAUD_FEATURES on: a risk model, once
        console.rule("1. seed: customers and the knowledge base, through Kafka")
        people = producer.publish(seed_customers(50))
        docs = producer.publish(seed_documents())
        console.print(f"published {len(people)} customer profiles and {len(docs)} documents")
        feeding = ingestion(eff, producer=producer).start()
        console.print("starting the fraud agent (loading the model and the embedder) ...")
        agent = build_agent("fraud", eff, producer).start()
        worker = agent.worker
        try:
            tools = worker.ctx.tools
            await_(console, lambda: tools.profiles.get("cust-john") is not None, "John's profile")
            await_(console, lambda: tools.retriever.count("policy-card-fraud") > 0,
                   "the fraud policy")  # fmt: skip
            john = tools.profiles.get("cust-john")
            assert john is not None
            console.print(
                f"John's profile is live: {john.name}, {john.age}, credit score "
                f"{john.credit_score}, home {john.home_ownership}; the fraud policy is searchable"
            )

            console.rule("2. vigil simulate --scenario london-paris")
            story = [
                e
                for e in plan_events(SimPlan(scenarios=["london-paris"], run=run))
                if isinstance(e, Transaction)
            ]
            ours = {t.transaction_id for t in story}
            forget_earlier_sightings(console, tools.cards, story)

            def show(p: Produced) -> None:
                t = p.event
                assert isinstance(t, Transaction)
                console.print(
                    f"[cyan]{p.topic}[/][{p.partition}]@{p.offset} {t.timestamp:%H:%M:%S} "
                    f"{t.card_id} {t.channel} {t.merchant} ({t.city}) {t.amount} {t.currency}",
                    highlight=False,
                )

            produce(eff, story, on_produced=show, producer=producer)

            console.rule("3. screening escalates; the graph asks an analyst")

            def requests() -> list[ApprovalRequest]:
                """This run's pending requests (an earlier, interrupted run may have left
                its own pending: they are not this story's)."""
                pending = worker.pending.pending()
                return [r for r in pending if r.proposal.get("transaction_id") in ours]

            await_(console, lambda: bool(requests()), "the approval request")
            [request] = requests()
            table = Table("approval", "proposal", "evidence", "deadline (UTC)")
            table.add_row(
                request.approval_id,
                json.dumps(request.proposal, indent=1),
                "\n".join(f"- {e}" for e in request.evidence),
                f"{request.deadline:%H:%M:%S}\n{request.proposal_hash[:23]}...",
            )
            console.print(table)

            console.rule("4. the analyst decides")
            approve = (
                Confirm.ask("Approve this block?", default=True, console=console)
                if interactive
                else True
            )
            if not interactive:
                console.print("approving as demo.analyst (use --interactive to decide yourself)")
            decide(
                eff, console, request.approval_id, "approve" if approve else "reject",
                "demo.analyst", "demo: confirmed impossible travel" if approve else "demo",
                request.proposal_hash,
            )  # fmt: skip

            def decided() -> list[dict[str, Any]]:
                rows = tools.lake.decisions().to_pylist()  # the lake keeps earlier runs' too
                return [row for row in rows if row["transaction_id"] in ours]

            await_(console, lambda: bool(decided()), "the final decision")

            console.rule("5. what happened, exactly once")
            _print_topic(console, eff, Stream.BLOCK_ACTIONS, BlockAction, "block",
                         keep=lambda b: b.transaction_id in ours)  # fmt: skip
            _print_topic(console, eff, Stream.ALERTS, Alert, "alert",
                         keep=lambda a: a.refs.get("transaction_id") in ours)  # fmt: skip
            for row in decided():
                console.print(
                    f"[magenta]lake[/] date={row['decided_at']:%Y-%m-%d} outcome={row['outcome']} "
                    f"risk={row['risk_score']:.2f} decided_by={row['decided_by']} "
                    f"customer={row['customer'][:12]}... card={row['card'][:12]}... "
                    "(pseudonymized)",
                    highlight=False,
                )
            m = worker.metrics
            console.print(
                f"screened {m.screened}, escalated {m.escalated}, blocked {m.blocked}; model "
                f"calls: {worker.ctx.gateway.metrics.snapshot()['calls']}"
            )
            if all_agents:
                _proactive(eff, console, producer, run)
        finally:
            agent.stop()
            feeding.stop()
    console.print("[green]demo finished; embedded servers stopped.[/]")


def await_(
    console: Console, check: Callable[[], bool], what: str, *, timeout: float = 120.0
) -> None:
    """``wait_until`` that shows what it waits for and for how long: a live status on a
    terminal; elsewhere a line once the wait passes NOTE_AFTER_S, then every NOTE_EVERY_S."""
    started = time.monotonic()
    limit = f"gives up after {timeout:.0f} s"
    if console.is_terminal:
        with console.status(f"waiting for {what} ({limit})") as status:

            def counted() -> bool:
                waited = time.monotonic() - started
                status.update(f"waiting for {what}: {waited:.0f} s ({limit})")
                return check()

            wait_until(counted, what, timeout=timeout)
        return
    note_at = NOTE_AFTER_S

    def noted() -> bool:
        nonlocal note_at
        waited = time.monotonic() - started
        if waited >= note_at:
            console.print(f"... waiting for {what}: {waited:.0f} s so far ({limit})")
            note_at += NOTE_EVERY_S
        return check()

    wait_until(noted, what, timeout=timeout)


def forget_earlier_sightings(
    console: Console, cards: CardLocationStore, story: Sequence[Transaction]
) -> None:
    """The story's cards start without a last sighting, as on a fresh data folder.

    After an earlier run John's card was last seen at the Paris cafe minutes ago, so this
    run's London ATM would itself be impossible travel and the story would escalate twice.
    """
    for card in dict.fromkeys(t.card_id for t in story):
        last = cards.last(card)
        if last is not None and cards.forget(card):
            console.print(
                f"[dim]{card} was last seen at {last.lat:.4f},{last.lon:.4f} at "
                f"{last.timestamp:%H:%M:%S} UTC ({last.transaction_id}, an earlier run): "
                "forgotten, so this run's story starts as the first one did[/]",
                highlight=False,
            )


def _proactive(settings: Settings, console: Console, producer: EventProducer, run: str) -> None:
    """Steps 6 and 7: a failing pump and a repeated storm warning, watched by agents."""
    console.rule("6. predictive maintenance: three days of sensor readings, pump-03 wearing out")
    maintenance = build_agent("maintenance", settings, producer).start()
    monitoring = build_agent("monitoring", settings, producer).start()
    try:
        sim = Simulator(seed=7, customers=5, run=run)
        close_open_episode(console, settings, producer, sim, DEGRADING_ASSET)
        readings, failure_at = sim.asset_run()
        producer.publish(sim.maintenance_history())
        producer.publish(readings)
        console.print(
            f"published {len(readings)} readings of {len({r.asset_id for r in readings})} assets; "
            f"pump-03 will fail at {failure_at:%Y-%m-%d %H:%M} (simulated)"
        )
        m = maintenance.worker.metrics
        await_(console, lambda: m.screened >= len(readings) and sum(m.outcomes.values()) >= 1,
               "the work order", timeout=600)  # fmt: skip
        read = {r.event_id for r in readings}
        _print_topic(console, settings, Stream.WORK_ORDERS, WorkOrder, "work order",
                     keep=lambda w: bool(read.intersection(w.source_event_ids)))  # fmt: skip

        console.rule("7. monitoring: a severe storm warning for London, sent twice by the feed")
        signals = SCENARIOS["storm"](sim)
        storm = {s.signal_id for s in signals if isinstance(s, MonitoringSignal)}
        producer.publish(signals)
        mon = monitoring.worker.metrics
        await_(console, lambda: mon.screened >= len(signals) and sum(mon.outcomes.values()) >= 1,
               "the storm alerts", timeout=600)  # fmt: skip
        for outcome, n in mon.outcomes.items():
            console.print(f"monitoring: {outcome} (x{n}) from {len(signals)} copies of the signal")
        _print_topic(
            console, settings, Stream.ALERTS, Alert, "alert",
            keep=lambda a: a.audience in ("customer", "operations")
            and a.refs.get("signal_id") in storm,
        )  # fmt: skip
    finally:
        maintenance.stop()
        monitoring.stop()


def close_open_episode(
    console: Console, settings: Settings, producer: EventProducer, sim: Simulator, asset: str
) -> None:
    """An episode an earlier run (or a `vigil simulate --scenario pump-failure`) opened stays
    open until a repair is logged: the agent raises no second work order for it. Log the
    repair on ``maintenance.logs``, as the technician would, and wait until it is closed."""
    features = FeatureStore(redis_client(settings), settings)
    opened_by = features.open_episode_of(asset)
    if opened_by is None:
        return
    repair = sim.asset_repair(asset, "Bearing replaced (the work order of an earlier demo run).")
    producer.publish([repair])
    console.print(
        f"[dim]{asset} still has the degradation episode that reading {opened_by} opened in an "
        f"earlier run: logged its repair ({repair.log_id}) on maintenance.logs to close it[/]",
        highlight=False,
    )
    await_(console, lambda: features.open_episode_of(asset) is None,
           f"the repair to close {asset}'s episode")  # fmt: skip


def _print_topic(
    console: Console,
    settings: Settings,
    stream: Stream,
    model: type[M],
    label: str,
    *,
    keep: Callable[[M], bool],
) -> None:
    """Print the topic's records that ``keep`` picks (this run's), read to its end."""
    for event in _read_topic(settings, stream, model):
        if keep(event):
            console.print(f"[red]{label}[/] {event.model_dump_json()}", highlight=False)


def _read_topic(
    settings: Settings, stream: Stream, model: type[M], timeout: float = 10.0
) -> list[M]:
    """Every record of the topic from the beginning to its end offsets as of now."""
    from kafka import KafkaConsumer, TopicPartition

    from ingestion.kafka import consumer_config

    consumer = KafkaConsumer(**consumer_config(settings), enable_auto_commit=False)
    try:
        topic = settings.topic(stream)
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[M] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                break
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(model.model_validate_json(r.value) for r in records)
        return out
    finally:
        consumer.close()
