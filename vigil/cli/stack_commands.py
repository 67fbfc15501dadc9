"""The stack and what runs on it: ``up``, ``api``, ``simulate``, ``seed``, ``ingest``, ``demo``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.cli.common import app, console, err, friendly, load_settings, stop_on_signals
from vigil.settings import Settings


@app.command()
@friendly
def up(
    topics: Annotated[bool, typer.Option(help="Create the topics on start.")] = True,
    api: Annotated[bool, typer.Option(help="Serve the HTTP API and console too.")] = True,
) -> None:
    """Start the stack and keep it up until Ctrl-C / SIGTERM.

    With VIGIL_KAFKA_BOOTSTRAP / VIGIL_REDIS_URL set, checks those servers and starts
    nothing; otherwise starts the embedded Tansu broker and Valkey on 127.0.0.1, as
    children that die with this process. Other commands on the same data folder
    (vigil simulate, ...) find the running stack by themselves.
    """
    from vigil.runtime.stack import Stack

    settings = load_settings()
    stack = Stack(settings, create_topics=topics)
    with stop_on_signals() as stop:
        eff = stack.start()
        try:
            if api:  # a child like the servers: stopped with them, first
                stack.servers["api"] = _start_api(eff)
            state = stack.write_state()
            _print_stack(stack, eff, state)
            console.print("[dim]Ctrl-C or SIGTERM stops everything.[/]")
            stop.wait()
            console.print("stopping ...")
        finally:
            codes = stack.stop()
    for name, code in codes.items():
        console.print(f"  {name} stopped (exit code {code})")


def _start_api(eff: Settings) -> Any:
    """``vigil api`` as a child that dies with this process, pointed at this stack."""
    import os
    import sys

    from vigil.runtime.embedded import ChildServer, choose_port, tcp_reachable

    host = eff.api_host
    port = choose_port(host, eff.api_port, "the API", "VIGIL_API_PORT")
    env = {**os.environ, "VIGIL_KAFKA_BOOTSTRAP": str(eff.kafka_bootstrap),
           "VIGIL_REDIS_URL": str(eff.redis_url), "VIGIL_API_PORT": str(port)}  # fmt: skip
    server = ChildServer(
        "api",
        [sys.executable, "-m", "vigil", "api"],
        host=host,
        port=port,
        log_path=eff.data_dir / "logs" / "api.log",
        ready=lambda: tcp_reachable(host, port),
        env=env,
    )
    server.start(timeout=120)
    return server


def _print_stack(stack: Any, eff: Settings, state: Path | None) -> None:
    table = Table("service", "listens on", "process")
    kafka_srv = stack.servers.get("kafka")
    redis_srv = stack.servers.get("redis")
    table.add_row(
        "Kafka",
        eff.kafka_bootstrap,
        f"embedded Tansu, pid {kafka_srv.pid}" if kafka_srv else "external",
    )
    table.add_row(
        "Redis", eff.redis_url, f"embedded Valkey, pid {redis_srv.pid}" if redis_srv else "external"
    )
    api = stack.servers.get("api")
    if api is not None:
        table.add_row("API and console", f"http://{api.host}:{api.port}/console", f"pid {api.pid}")
    console.print(table)
    console.print(
        f"data folder: {eff.data_dir.resolve()}" + (f"  (state: {state})" if state else "")
    )


@app.command("api")
@friendly
def api_cmd(
    host: Annotated[str | None, typer.Option(help="Interface (default VIGIL_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default VIGIL_API_PORT).")] = None,
) -> None:
    """Serve the HTTP API and the web console (uvicorn) until Ctrl-C / SIGTERM.

    Uses the running `vigil up` stack on this data folder, or the configured servers.
    """
    from vigil.runtime.server import serve
    from vigil.runtime.stack import discover

    settings = discover(load_settings())
    updates = {k: v for k, v in (("api_host", host), ("api_port", port)) if v is not None}
    settings = settings.model_copy(update=updates)
    if not settings.api_keys and settings.api_token_secret is None and not settings.api_dev_keys:
        err.print(
            "[yellow]no credentials configured: every request will get 401. Set "
            "VIGIL_API_KEYS or VIGIL_API_TOKEN_SECRET (VIGIL_API_DEV_KEYS=true for a local try)[/]"
        )
    elif settings.api_dev_keys:
        err.print("[yellow]VIGIL_API_DEV_KEYS is on: well-known keys are accepted[/]")
    console.print(f"console: http://{settings.api_host}:{settings.api_port}/console")
    serve(settings)


@app.command()
@friendly
def simulate(
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="Emit just this scenario (repeatable): london-paris, card-testing, amount-spike."
        ),
    ] = None,
    inject: Annotated[
        list[str] | None, typer.Option(help="Inject this scenario into the traffic (repeatable).")
    ] = None,
    count: Annotated[int, typer.Option(help="Background events to produce.")] = 1000,
    rate: Annotated[
        float, typer.Option(help="Events per second; 0 = as fast as possible.")
    ] = 200.0,
    seed: Annotated[
        int, typer.Option(help="Same seed + same --start + same --run-id = same events.")
    ] = 7,
    customers: Annotated[int, typer.Option(help="Simulated customers (John is the first).")] = 200,
    start: Annotated[
        datetime | None, typer.Option(help="Simulated clock start (ISO 8601); default now, UTC.")
    ] = None,
    profiles: Annotated[bool, typer.Option(help="Begin with every customer's profile.")] = True,
    show: Annotated[
        bool | None, typer.Option("--print/--quiet", help="Print every event (default: scenarios).")
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(help="Tag in every event id; default: a fresh one (a rerun is new events)."),
    ] = None,
    fraud_days: Annotated[
        int,
        typer.Option(
            min=0,
            max=120,
            help="Instead: a labelled fraud history of this many days (--customers shoppers): "
            "payments, and their fraud labels once known, for the fraud agent and the lake.",
        ),
    ] = 0,
) -> None:
    """Produce realistic, seeded traffic to the topics, with scenarios on demand.

    Card-present and online purchases and ATM withdrawals by customers with home cities
    and cards, profile changes, knowledge-base updates, sensor readings (pump-03 wears
    out) and service metrics (card-auth has an incident). Runs against VIGIL_KAFKA_BOOTSTRAP
    or the stack started by `vigil up`.
    """
    from datetime import UTC

    from ingestion.simulator import new_run_id
    from vigil.runtime.stack import discover
    from vigil.simulate import SimPlan

    settings = discover(load_settings())
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    plan = SimPlan(
        seed=seed,
        customers=customers,
        count=count,
        rate=rate,
        start=start,
        scenarios=scenario or [],
        inject=inject or [],
        profiles=profiles,
        run=run_id or new_run_id(),
        fraud_days=fraud_days,
    )
    plan.validate()
    total = None if plan.scenarios or fraud_days else count + (customers if profiles else 0)
    verbose = bool(plan.scenarios) if show is None else show
    console.print(f"run {plan.run}: in every id; --run-id {plan.run} with the same --seed and "
                  "--start replays these events")  # fmt: skip
    counts = run_simulation(settings, plan, total=total, verbose=verbose)
    summary = ", ".join(f"{n} to {t}" for t, n in sorted(counts.items()))
    console.print(f"[green]produced {sum(counts.values())} events[/]: {summary}")


def run_simulation(settings: Settings, plan: Any, *, total: int | None, verbose: bool) -> Any:
    from ingestion.kafka import ensure_topics, require_bootstrap, wait_for_kafka
    from vigil.simulate import Produced, plan_events, produce

    wait_for_kafka(require_bootstrap(settings), settings.kafka_connect_timeout_s)
    ensure_topics(settings)  # a no-op on a stack from `vigil up`; needed on a bare broker
    with (
        stop_on_signals() as stop,
        Progress(
            TextColumn("[bold]simulate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task("events", total=total, rate="")
        started = datetime.now()

        def on_produced(p: Produced) -> None:
            progress.advance(task)
            elapsed = (datetime.now() - started).total_seconds() or 1e-9
            done = progress.tasks[0].completed
            progress.update(task, rate=f"{done / elapsed:,.0f} ev/s")
            if verbose:
                progress.console.print(
                    f"[cyan]{p.topic}[/][{p.partition}]@{p.offset} key={p.event.key} "
                    f"{p.event.model_dump_json()}",
                    highlight=False,
                    soft_wrap=True,
                )

        return produce(
            settings, plan_events(plan), rate=plan.rate, stop=stop, on_produced=on_produced
        )


@app.command()
@friendly
def seed(
    customers: Annotated[int, typer.Option(help="Customer profiles to publish.")] = 50,
    documents: Annotated[bool, typer.Option(help="Publish the knowledge corpus.")] = True,
) -> None:
    """Publish the seed data through the topics: customer profiles (John first) and the
    knowledge corpus (fraud, dispute and financing policies, FAQs, maintenance manuals)."""
    from ingestion.kafka import ensure_topics, require_bootstrap, wait_for_kafka
    from ingestion.producer import EventProducer
    from ingestion.seed import seed_customers, seed_documents
    from vigil.runtime.stack import discover

    settings = discover(load_settings())
    wait_for_kafka(require_bootstrap(settings), settings.kafka_connect_timeout_s)
    ensure_topics(settings)
    with EventProducer(settings) as producer:
        people = producer.publish(seed_customers(customers))
        docs = producer.publish(seed_documents()) if documents else []
    console.print(f"[green]published {len(people)} customer profiles and {len(docs)} documents[/]")


@app.command()
@friendly
def ingest(
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Keep customer profiles (Redis) and the knowledge base (vectors) fresh from Kafka,
    until Ctrl-C / SIGTERM."""
    from vigil.runtime.stack import discover
    from vigil.wiring.feeds import ingestion

    settings = discover(load_settings())
    with stop_on_signals() as stop:
        running = ingestion(settings).start()
        console.print("ingesting customers.changes and knowledge.documents; Ctrl-C stops")
        stop.wait(timeout)
        running.stop()
    p, k = running.profiles.metrics, running.knowledge.metrics
    console.print(
        f"profiles: {p.processed} applied, {p.dead_lettered} dead-lettered; "
        f"documents: {k.processed} applied, {k.dead_lettered} dead-lettered"
    )


@app.command()
@friendly
def demo(
    interactive: Annotated[
        bool, typer.Option(help="Wait for you to approve or reject, instead of approving.")
    ] = False,
    all_agents: Annotated[
        bool, typer.Option("--all", help="Then the maintenance and monitoring agents too.")
    ] = False,
) -> None:
    """The founding story end to end on the embedded stack: no server, no network, no keys.

    Seeds customers and the knowledge base through Kafka, starts the ingestion and the
    fraud agent, plays John's card at a London ATM then a Paris cafe 40 s later, shows the
    pending approval, approves it (or asks you, with --interactive), and prints the block,
    the alerts and the data-lake record.
    """
    from vigil.demo import run_demo

    run_demo(load_settings(), console, interactive=interactive, all_agents=all_agents)
