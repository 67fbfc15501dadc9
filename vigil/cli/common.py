"""What every command group shares: the app and its groups, the console, error reporting,
settings loading and the stop signals."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from agents.errors import AgentError
from ingestion.errors import IngestionError
from ingestion.signals import stop_event
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
topics_app = typer.Typer(help="Vigil's Kafka topics.")
app.add_typer(topics_app, name="topics")

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
        except (VigilError, AgentError, IngestionError, ValueError) as exc:
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise VigilError(f"invalid configuration (check the VIGIL_* variables):\n{exc}") from exc


#: an event that SIGINT or SIGTERM sets (previous handlers come back afterwards)
stop_on_signals = stop_event
