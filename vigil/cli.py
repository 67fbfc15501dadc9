"""The ``vigil`` command line."""

from __future__ import annotations

import functools
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingestion.errors import IngestionError
from vigil.errors import VigilError
from vigil.settings import Settings

app = typer.Typer(
    help="Vigil: LangGraph agents on Kafka event streams, with human approval of every block.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks, printed as ratios against a baseline run alongside.")
app.add_typer(bench_app, name="bench")
llm_app = typer.Typer(help="The model layer: which model is configured, and does it work.")
app.add_typer(llm_app, name="llm")
approvals_app = typer.Typer(help="The analyst's inbox: pending block proposals and answers.")
app.add_typer(approvals_app, name="approvals")
agents_app = typer.Typer(help="The long-running agents.")
app.add_typer(agents_app, name="agents")

console = Console()
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Report Vigil's own errors as one clear message and exit code 2, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (VigilError, IngestionError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise VigilError(f"invalid configuration (check the VIGIL_* variables):\n{exc}") from exc


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM; previous handlers come back afterwards."""
    stop = threading.Event()

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# -- config --------------------------------------------------------------------------------


@app.command()
@friendly
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings (environment, .env, defaults), secrets masked."""
    settings = load_settings()
    values = settings.public_dump()
    if as_json:
        console.print_json(json.dumps(values, default=str))
        return
    table = Table("setting", "environment variable", "value", title="Vigil settings")
    for name, value in values.items():
        shown = "(unset: embedded)" if value is None else json.dumps(value, default=str)
        table.add_row(name, f"VIGIL_{name.upper()}", shown.strip('"'))
    console.print(table)


# -- up --------------------------------------------------------------------------------------


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
    from vigil.stack import Stack

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

    from vigil.embedded import ChildServer, choose_port, tcp_reachable

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


# -- simulate ----------------------------------------------------------------------------------


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
) -> None:
    """Produce realistic, seeded traffic to the topics, with scenarios on demand.

    Card-present and online purchases and ATM withdrawals by customers with home cities
    and cards, profile changes, knowledge-base updates, sensor readings (pump-03 wears
    out) and service metrics (card-auth has an incident). Runs against VIGIL_KAFKA_BOOTSTRAP
    or the stack started by `vigil up`.
    """
    from datetime import UTC

    from ingestion.simulator import new_run_id
    from vigil.simulate import SimPlan
    from vigil.stack import discover

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
    )
    plan.validate()
    total = None if plan.scenarios else count + (customers if profiles else 0)
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


# -- seed and ingest -----------------------------------------------------------------------------


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
    from vigil.stack import discover

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
    from vigil.ingest import ingestion
    from vigil.stack import discover

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


# -- approvals and agents ------------------------------------------------------------------------


@approvals_app.command("list")
@friendly
def approvals_list() -> None:
    """Pending block proposals, oldest deadline first."""
    from vigil.approvals_cli import list_pending
    from vigil.stack import discover

    list_pending(discover(load_settings()), console)


@approvals_app.command("show")
@friendly
def approvals_show(approval_id: str) -> None:
    """One request in full: the proposal, its hash, the evidence, the deadline."""
    from vigil.approvals_cli import show
    from vigil.stack import discover

    show(discover(load_settings()), console, approval_id)


def _decide(approval_id: str, decision: str, analyst: str, reason: str, ph: str | None) -> None:
    from vigil.approvals_cli import decide
    from vigil.stack import discover

    decide(discover(load_settings()), console, approval_id, decision, analyst, reason, ph)  # type: ignore[arg-type]


@approvals_app.command("approve")
@friendly
def approvals_approve(
    approval_id: str,
    analyst: Annotated[str, typer.Option(help="Who approves.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    proposal_hash: Annotated[
        str | None, typer.Option(help="The hash you reviewed; refused if the proposal changed.")
    ] = None,
) -> None:
    """Approve a block proposal (exactly the one shown by `show`)."""
    _decide(approval_id, "approve", analyst, reason, proposal_hash)


@approvals_app.command("reject")
@friendly
def approvals_reject(
    approval_id: str,
    analyst: Annotated[str, typer.Option(help="Who rejects.")],
    reason: Annotated[str, typer.Option(help="Why (recorded with the false positive).")] = "",
    proposal_hash: Annotated[str | None, typer.Option(help="The hash you reviewed.")] = None,
) -> None:
    """Reject a block proposal: the payment is released and a false positive recorded."""
    _decide(approval_id, "reject", analyst, reason, proposal_hash)


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
) -> None:
    """Run agents and the context ingestion until Ctrl-C / SIGTERM.

    With --replicas N (or --ray) every replica is a process of its own (or a Ray actor)
    and a member of each agent's consumer group; dead replicas are restarted, and Ctrl-C
    drains them (batch finished, committed, group left).
    """
    from ingestion.producer import EventProducer
    from vigil.agents import agent as build_agent
    from vigil.ingest import ingestion
    from vigil.stack import discover

    names = _agent_names(agent)
    settings = discover(load_settings())
    if replicas > 1 or ray is not None:
        _run_replicas(settings, names, replicas, ray, timeout)
        return
    with stop_on_signals() as stop, EventProducer(settings) as producer:
        feeding = ingestion(settings, producer=producer).start()
        running = [build_agent(n, settings, producer).start() for n in names]
        console.print(f"agents running: {', '.join(names)} (and ingestion); Ctrl-C stops")
        stop.wait(timeout)
        for service in running:
            service.stop()
        feeding.stop()
    for service in running:
        m = service.worker.metrics
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(m.outcomes.items())) or "none"
        console.print(
            f"{service.name}: screened {m.screened}, escalated {m.escalated}, approved "
            f"{m.approved}, rejected {m.rejected}, expired {m.expired}; outcomes: {outcomes}"
        )


def _agent_names(agent: str) -> list[str]:
    """``all`` or comma-separated agent names, each checked."""
    from vigil.agents import AGENTS

    names = list(AGENTS) if agent == "all" else [a.strip() for a in agent.split(",")]
    unknown = [n for n in names if n not in AGENTS]
    if unknown:
        raise VigilError(f"no agent {', '.join(unknown)}; agents: {', '.join(AGENTS)}, all")
    return names


def _run_replicas(
    settings: Settings, names: list[str], n: int, ray: str | None, timeout: float | None
) -> None:
    from vigil.replicas import ReplicaSet, heartbeats, start_ray
    from vigil.wiring import redis_client

    if ray is not None:
        start_ray(ray)
    replicas = ReplicaSet(settings, names, backend="ray" if ray else "process")
    client = redis_client(settings)
    with stop_on_signals() as stop:
        replicas.scale(n)
        where = f"Ray actors ({ray})" if ray else "worker processes"
        console.print(f"{n} replicas of {', '.join(names)} as {where}; Ctrl-C drains them")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not stop.wait(2.0):
            for rid in replicas.supervise():
                console.print(f"[yellow]{rid} died: restarted[/]")
            if deadline is not None and time.monotonic() >= deadline:
                break
        console.print("draining the replicas (finishing and committing their batches) ...")
        beats = {b["replica"]: b for b in heartbeats(settings, client)}
        replicas.stop()
    for rid, beat in sorted(beats.items()):
        counts = ", ".join(f"{a} screened {v['screened']}" for a, v in beat["agents"].items())
        console.print(f"{rid}: {counts}")
    console.print(f"restarts by the supervisor: {replicas.restarts}")


@agents_app.command("status")
@friendly
def agents_status(
    agent: Annotated[str, typer.Option(help="fraud, maintenance, monitoring, or all.")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Members of each agent's group and their partitions, lag, events/s, escalations,
    pending approvals."""
    from vigil.replicas import agents_status as status
    from vigil.stack import discover
    from vigil.wiring import redis_client

    names = _agent_names(agent)
    settings = discover(load_settings())
    report = status(settings, redis_client(settings), names)
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


# -- api -----------------------------------------------------------------------------------------


@app.command("api")
@friendly
def api_cmd(
    host: Annotated[str | None, typer.Option(help="Interface (default VIGIL_API_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default VIGIL_API_PORT).")] = None,
) -> None:
    """Serve the HTTP API and the web console (uvicorn) until Ctrl-C / SIGTERM.

    Uses the running `vigil up` stack on this data folder, or the configured servers.
    """
    from vigil.api import serve
    from vigil.stack import discover

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
def token(
    role: Annotated[str, typer.Option(help="customer, analyst or admin.")],
    subject: Annotated[str, typer.Option(help="The customer id, or the analyst's name.")],
    ttl: Annotated[
        int | None, typer.Option(help="Seconds (default VIGIL_API_TOKEN_TTL_S).")
    ] = None,
) -> None:
    """Mint a signed API token (needs VIGIL_API_TOKEN_SECRET)."""
    from api.auth import Authenticator, parse_grant

    settings = load_settings()
    if settings.api_token_secret is None:
        raise VigilError("set VIGIL_API_TOKEN_SECRET to mint tokens (the API checks with it)")
    try:
        who = parse_grant(f"{role}:{subject}", where="--role/--subject")
    except ValueError as exc:
        raise VigilError(str(exc)) from exc
    auth = Authenticator({}, settings.api_token_secret.get_secret_value(),
                         token_ttl_s=settings.api_token_ttl_s)  # fmt: skip
    print(auth.mint(who, ttl))


# -- demo ----------------------------------------------------------------------------------------


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


@app.command("eval")
@friendly
def eval_cmd(
    suite: Annotated[
        str, typer.Option(help="chat, events, streams or all (comma-separated for several).")
    ] = "all",
    model: Annotated[
        list[str] | None,
        typer.Option(help="Model(s) to run (repeatable). Default: local, plus VIGIL_LLM."),
    ] = None,
    cases: Annotated[
        str | None, typer.Option(help="Only the cases whose id matches, e.g. 'travel-*'.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Folder of the reports.")] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Baseline to compare with (default evals/baseline.json).")
    ] = None,
    save_baseline: Annotated[
        bool, typer.Option(help="Save this run's figures as the baseline.")
    ] = False,
    judge: Annotated[
        str | None, typer.Option(help="Model that judges chat answers (default: a real model).")
    ] = None,
    gate: Annotated[bool, typer.Option(help="Exit 1 when a gated figure fails.")] = True,
) -> None:
    """Run the golden cases and streams, write the reports, compare with the baseline.

    Offline by default, on the embedded stack: the local model, deterministic scorers.
    With VIGIL_LLM naming a real model (or --model), that model runs too, side by side,
    and judges the chat answers.
    """
    from vigil.eval import run_eval

    names = {"all": ["chat", "events", "streams"]}.get(suite, suite.split(","))
    unknown = sorted(set(names) - {"chat", "events", "streams"})
    if unknown:
        raise VigilError(f"unknown suite {', '.join(unknown)}: chat, events, streams or all")
    outcome = run_eval(
        load_settings(), console, suites=names, models=model, out_dir=out, pattern=cases,
        baseline=baseline, save_as_baseline=save_baseline, judge=judge,
    )  # fmt: skip
    if gate and not outcome.run.passed:
        raise typer.Exit(1)


# -- bench ---------------------------------------------------------------------------------------


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
) -> None:
    """Screening throughput and latency against raw kafka-python; escalation-path latency."""
    from vigil.bench.fraud import run_fraud_bench

    run_fraud_bench(load_settings(), console, sizes=[int(x) for x in sizes.split(",")])


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


@llm_app.command("check")
@friendly
def llm_check(
    prompt: Annotated[str, typer.Option(help="What to ask.")] = (
        "In one sentence, why would a bank pause a card after a suspicious payment?"
    ),
) -> None:
    """Load the configured model (VIGIL_LLM), stream a short reply, report the timings."""
    from vigil.llm_check import run_llm_check

    run_llm_check(load_settings(), console, prompt)


def main() -> None:  # pragma: no cover - console-script entry point
    app()
