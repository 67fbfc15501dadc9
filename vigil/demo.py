"""``vigil demo``: the founding story on the embedded stack, end to end."""

from __future__ import annotations

import json

from pydantic import BaseModel
from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from ingestion.contracts import Alert, BlockAction, Transaction, WorkOrder
from ingestion.producer import EventProducer
from ingestion.seed import seed_customers, seed_documents
from ingestion.simulator import SCENARIOS, Simulator
from ingestion.waiting import wait_until
from vigil.agents import agent, fraud_agent
from vigil.approvals_cli import decide
from vigil.ingest import ingestion
from vigil.settings import Settings, Stream
from vigil.simulate import Produced, SimPlan, plan_events, produce
from vigil.stack import Stack


def run_demo(
    settings: Settings, console: Console, *, interactive: bool = False, all_agents: bool = False
) -> None:
    console.rule("[bold]Vigil demo: the founding story")
    with Stack(settings) as eff, EventProducer(eff) as producer:
        console.print(f"Kafka {eff.kafka_bootstrap}   Redis {eff.redis_url}   data {eff.data_dir}")

        console.rule("1. seed: customers and the knowledge base, through Kafka")
        people = producer.publish(seed_customers(50))
        docs = producer.publish(seed_documents())
        console.print(f"published {len(people)} customer profiles and {len(docs)} documents")
        feeding = ingestion(eff, producer=producer).start()
        console.print("starting the fraud agent (loading the model and the embedder) ...")
        agent = fraud_agent(eff, producer).start()
        worker = agent.worker
        try:
            tools = worker.ctx.tools
            wait_until(lambda: tools.profiles.get("cust-john") is not None, "John's profile")
            wait_until(lambda: tools.retriever.count("policy-card-fraud") > 0, "the fraud policy")
            john = tools.profiles.get("cust-john")
            assert john is not None
            console.print(
                f"John's profile is live: {john.name}, {john.age}, credit score "
                f"{john.credit_score}, home {john.home_ownership}; the fraud policy is searchable"
            )

            console.rule("2. vigil simulate --scenario london-paris")
            played: list[Produced] = []

            def show(p: Produced) -> None:
                played.append(p)
                t = p.event
                assert isinstance(t, Transaction)
                console.print(
                    f"[cyan]{p.topic}[/][{p.partition}]@{p.offset} {t.timestamp:%H:%M:%S} "
                    f"{t.card_id} {t.channel} {t.merchant} ({t.city}) {t.amount} {t.currency}",
                    highlight=False,
                )

            produce(eff, plan_events(SimPlan(scenarios=["london-paris"])), on_produced=show,
                    producer=producer)  # fmt: skip

            console.rule("3. screening escalates; the graph asks an analyst")
            wait_until(lambda: bool(worker.pending.pending()), "the approval request")
            [request] = worker.pending.pending()
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
            wait_until(lambda: worker.ctx.tools.lake.decisions().num_rows > 0, "the final decision")

            console.rule("5. what happened, exactly once")
            _print_topic(console, eff, Stream.BLOCK_ACTIONS, BlockAction, "block")
            _print_topic(console, eff, Stream.ALERTS, Alert, "alert")
            for row in tools.lake.decisions().to_pylist():
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
                _proactive(eff, console, producer)
        finally:
            agent.stop()
            feeding.stop()
    console.print("[green]demo finished; embedded servers stopped.[/]")


def _proactive(settings: Settings, console: Console, producer: EventProducer) -> None:
    """Steps 6 and 7: a failing pump and a repeated storm warning, watched by agents."""
    console.rule("6. predictive maintenance: three days of sensor readings, pump-03 wearing out")
    maintenance = agent("maintenance", settings, producer).start()
    monitoring = agent("monitoring", settings, producer).start()
    try:
        sim = Simulator(seed=7, customers=5)
        readings, failure_at = sim.asset_run()
        producer.publish(sim.maintenance_history())
        producer.publish(readings)
        console.print(
            f"published {len(readings)} readings of {len({r.asset_id for r in readings})} assets; "
            f"pump-03 will fail at {failure_at:%Y-%m-%d %H:%M} (simulated)"
        )
        m = maintenance.worker.metrics
        wait_until(lambda: m.screened >= len(readings) and sum(m.outcomes.values()) >= 1,
              "the work order", timeout=600)  # fmt: skip
        _print_topic(console, settings, Stream.WORK_ORDERS, WorkOrder, "work order")

        console.rule("7. monitoring: a severe storm warning for London, sent twice by the feed")
        signals = SCENARIOS["storm"](sim)
        producer.publish(signals)
        mon = monitoring.worker.metrics
        wait_until(lambda: mon.screened >= len(signals) and sum(mon.outcomes.values()) >= 1,
              "the storm alerts", timeout=600)  # fmt: skip
        for outcome, n in mon.outcomes.items():
            console.print(f"monitoring: {outcome} (x{n}) from {len(signals)} copies of the signal")
        _print_topic(
            console, settings, Stream.ALERTS, Alert, "alert", only=("customer", "operations")
        )
    finally:
        maintenance.stop()
        monitoring.stop()


def _print_topic(
    console: Console,
    settings: Settings,
    stream: Stream,
    model: type[BaseModel],
    label: str,
    only: tuple[str, ...] = (),
) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    try:
        topic = settings.topic(stream)
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        for records in consumer.poll(timeout_ms=2000).values():
            for r in records:
                event = model.model_validate_json(r.value)
                if only and getattr(event, "audience", None) not in only:
                    continue
                console.print(f"[red]{label}[/] {event.model_dump_json()}", highlight=False)
    finally:
        consumer.close()
