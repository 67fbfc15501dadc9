"""``vigil topics ensure``: create Vigil's topics, with their partition counts and
replication, on a broker that does not create topics on first use (the compose stack's
one-shot job runs it; ``vigil api`` and every agent replica do the same at start)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vigil.cli.common import console, friendly, load_settings, topics_app


@topics_app.command("ensure")
@friendly
def topics_ensure(
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the broker to answer first.", min=0)
    ] = 60.0,
) -> None:
    """Create every topic Vigil uses that is missing (its DLQs too); say what each has.
    Idempotent: run it as often as you like, from as many places at once."""
    from ingestion.kafka import ensure_topics, require_bootstrap, topic_partitions, wait_for_kafka
    from vigil.runtime.stack import discover

    settings = discover(load_settings())
    wait_for_kafka(require_bootstrap(settings), wait)
    created = set(ensure_topics(settings))
    topics = settings.all_topics()
    have = topic_partitions(settings, topics)
    table = Table("topic", "partitions", "configured", "", title="Vigil's topics")
    differ = 0
    for topic in topics:
        want = settings.partitions(topic)
        note = "created" if topic in created else "there"
        if have[topic] != want:
            differ += 1
            note = f"[yellow]{note}: has {have[topic]}, not {want} (left as it is)[/]"
        table.add_row(topic, str(have[topic]), str(want), note)
    console.print(table)
    console.print(f"{len(created)} created, {len(topics) - len(created)} already there"
                  + (f"; {differ} with another partition count" if differ else ""))  # fmt: skip
