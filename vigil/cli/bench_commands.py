"""``vigil bench ...``: benchmarks, printed as ratios against a baseline run alongside."""

from __future__ import annotations

from typing import Annotated

import typer

from vigil.cli.common import bench_app, console, friendly, load_settings


@bench_app.command("kafka")
@friendly
def bench_kafka(
    events: Annotated[int, typer.Option(help="Transactions to produce and consume.")] = 50_000,
    rounds: Annotated[int, typer.Option(help="Alternating rounds of raw and runner.")] = 3,
) -> None:
    """Producer and consumer-runner throughput against raw kafka-python, same broker, same run."""
    from vigil.bench.kafka import run_kafka_bench

    run_kafka_bench(load_settings(), console, events=events, rounds=rounds)


@bench_app.command("fraud")
@friendly
def bench_fraud(
    sizes: Annotated[str, typer.Option(help="Comma-separated event counts.")] = "10000,100000",
    escalate_share: Annotated[
        float, typer.Option(help="Share of events escalating in the load rows.", min=0, max=0.5)
    ] = 0.02,
    model_s: Annotated[float, typer.Option(help="Seconds a model call takes.", min=0)] = 2.0,
    load_events: Annotated[int, typer.Option(help="Events of the load rows.", min=100)] = 20_000,
    rounds: Annotated[
        int, typer.Option(help="Throughput rounds per size (their medians).", min=1, max=20)
    ] = 3,
) -> None:
    """Screening against raw consume and a raw consume-produce loop; screening with
    escalations to a slow model; escalation-path latency."""
    from vigil.bench.fraud import run_fraud_bench

    run_fraud_bench(
        load_settings(), console, sizes=[int(x) for x in sizes.split(",")],
        escalate_share=escalate_share, model_s=model_s, load_events=load_events,
        rounds=rounds,
    )  # fmt: skip


@bench_app.command("scale")
@friendly
def bench_scale(
    events: Annotated[int, typer.Option(help="Transactions screened per configuration.")] = 40_000,
    ray: Annotated[bool, typer.Option(help="Also as Ray actors (a local Ray).")] = True,
    rounds: Annotated[int, typer.Option(help="Rounds over every configuration.", min=1)] = 3,
) -> None:
    """Screening throughput with 1 and 2 replicas (processes, Ray actors), as ratios."""
    from vigil.bench.scale import run_scale_bench

    run_scale_bench(load_settings(), console, events=events, ray=ray, rounds=rounds)


@bench_app.command("reliability")
@friendly
def bench_reliability(
    seconds: Annotated[float, typer.Option(help="How long the traffic flows.")] = 60.0,
    rate: Annotated[float, typer.Option(help="Transactions a second.")] = 100.0,
    ray: Annotated[
        str | None, typer.Option(help="Replicas as Ray actors: 'local' or a cluster address.")
    ] = None,
) -> None:
    """Traffic while a replica is killed, Redis restarts, malformed events burst and the
    replicas scale 1 -> 2 -> 1; then every transaction must have exactly one decision."""
    from vigil.bench.reliability import run_reliability

    outcome = run_reliability(load_settings(), console, seconds=seconds, rate=rate, ray=ray)
    if not outcome.ok:
        raise typer.Exit(1)


@bench_app.command("freshness")
@friendly
def bench_freshness(
    profiles: Annotated[int, typer.Option(help="Customer changes to time.")] = 200,
    documents: Annotated[int, typer.Option(help="Documents to time.")] = 30,
    chunks: Annotated[int, typer.Option(help="Chunks in the retrieval-latency table.")] = 10_000,
) -> None:
    """Event-to-queryable latency (profiles, documents) and LanceDB search latency at scale."""
    from vigil.bench.freshness import run_freshness_bench

    run_freshness_bench(
        load_settings(), console, profiles=profiles, documents=documents, chunks=chunks
    )


@bench_app.command("checkpointer")
@friendly
def bench_checkpointer(
    threads: Annotated[int, typer.Option(help="Chat threads per saver and round.")] = 10,
    turns: Annotated[int, typer.Option(help="Turns per thread.")] = 20,
    rounds: Annotated[int, typer.Option(help="Alternating rounds over the savers.")] = 3,
) -> None:
    """Time per chat turn and Redis memory per thread: RedisSaver vs SQLite and in-memory."""
    from vigil.bench.checkpointer import run_checkpointer_bench

    run_checkpointer_bench(load_settings(), console, threads=threads, turns=turns, rounds=rounds)


@bench_app.command("sse")
@friendly
def bench_sse(
    streams: Annotated[int, typer.Option(help="Concurrent chat streams.")] = 500,
    runs: Annotated[int, typer.Option(help="Turns timed one at a time, per side.")] = 20,
    loads: Annotated[
        str,
        typer.Option(
            help="Loads to hold, comma-separated PACE_MS@RAMP_S: the model's pace (ms a "
            "token) and the seconds over which the clients arrive."
        ),
    ] = "200@20,40@4",
) -> None:
    """Chat over SSE vs the graph's stream in-process; how many streams one process holds."""
    from vigil.bench.sse import parse_loads, run_sse_bench

    run_sse_bench(load_settings(), console, streams=streams, runs=runs, loads=parse_loads(loads))
