"""``vigil demo``: the founding story on the embedded stack, end to end."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from graphs.llm import CallRecord, ModelCallError
from ingestion.contracts import Transaction
from ingestion.runner import ConsumerRunner, Received
from vigil.errors import VigilError
from vigil.llm import build_gateway
from vigil.settings import Settings, Stream
from vigil.simulate import Produced, SimPlan, plan_events, produce
from vigil.stack import Stack


def run_demo(settings: Settings, console: Console, read_timeout: float = 60.0) -> None:
    console.rule("[bold]Vigil demo: the founding story")
    with Stack(settings) as eff:
        console.print(f"Kafka  {eff.kafka_bootstrap}   Redis  {eff.redis_url}")
        console.print("Topics created:", ", ".join(eff.all_topics()))

        console.rule("vigil simulate --scenario london-paris")
        produced: list[Produced] = []

        def show(p: Produced) -> None:
            produced.append(p)
            console.print(
                f"[cyan]{p.topic}[/][{p.partition}]@{p.offset} key={p.event.key} "
                f"{p.event.model_dump_json()}",
                highlight=False,
                soft_wrap=True,
            )

        produce(eff, plan_events(SimPlan(scenarios=["london-paris"])), on_produced=show)

        console.rule("read back by a consumer group")
        wanted = {p.event.event_id for p in produced}
        seen: list[Received[Transaction]] = []

        def collect(batch: Sequence[Received[Transaction]]) -> None:
            seen.extend(r for r in batch if r.event.event_id in wanted)

        runner = ConsumerRunner(
            eff,
            topic=eff.topic(Stream.TRANSACTIONS),
            model=Transaction,
            handler=collect,
            group=eff.group_id(f"demo-{uuid.uuid4().hex[:8]}"),
        )
        try:
            deadline_runs = int(read_timeout)
            for _ in range(deadline_runs):
                runner.run(timeout=1.0)
                if len(seen) >= len(wanted):
                    break
        finally:
            runner.close()
        if len(seen) < len(wanted):
            raise VigilError(f"read back {len(seen)} of {len(wanted)} events in {read_timeout} s")

        table = Table("when (UTC)", "card", "channel", "merchant", "where", "amount")
        for r in sorted(seen, key=lambda r: r.event.timestamp):
            t = r.event
            table.add_row(
                t.timestamp.strftime("%H:%M:%S"),
                t.card_id,
                t.channel,
                t.merchant,
                f"{t.city} ({t.lat}, {t.lon})",
                f"{t.amount} {t.currency}",
            )
        console.print(table)
        gap = (seen[-1].event.timestamp - seen[0].event.timestamp).total_seconds()
        console.print(
            f"Same card, {gap:.0f} s apart, London then Paris: delivered in order on partition "
            f"{seen[0].partition} (keyed by {seen[0].event.key}). "
            "The fraud agent screens exactly this."
        )
        _model_note(eff, console, seen[0].event, seen[-1].event)
    console.print("[green]demo finished; embedded servers stopped.[/]")


def _model_note(
    settings: Settings, console: Console, first: Transaction, second: Transaction
) -> None:
    """The configured model (offline SmolLM2 by default) writes the analyst a note."""
    console.rule(f"a note from the model ({settings.llm})")
    prompt = (
        f"A debit card took {first.amount} {first.currency} from an ATM in {first.city} and "
        f"{(second.timestamp - first.timestamp).total_seconds():.0f} seconds later paid "
        f"{second.amount} {second.currency} in a cafe in {second.city}. In two sentences, tell "
        "a fraud analyst why this matters."
    )
    records: list[CallRecord] = []

    async def stream() -> None:
        async for chunk in build_gateway(settings).astream(prompt, records):
            console.print(str(chunk.content), end="", highlight=False, soft_wrap=True)
        console.print()

    try:
        asyncio.run(stream())
    except (VigilError, ModelCallError) as exc:
        console.print(f"[yellow]no note: the model is unavailable ({exc})[/]")
        return
    rec = records[-1]
    console.print(
        f"[dim]{rec.model}: first token {rec.first_token_s or 0:.2f} s, "
        f"{rec.output_tokens} tokens in {rec.latency_s:.2f} s. Decisions never rest on this "
        "text: velocity and policy decide; the model explains.[/]"
    )
