"""The ``vigil`` command line: one module per command group, all on one Typer app."""

from __future__ import annotations

from vigil.cli import (  # noqa: F401 - each module registers its commands on the app
    agents_commands,
    approvals_commands,
    bench_commands,
    config_commands,
    eval_commands,
    fraud_commands,
    llm_commands,
    stack_commands,
    topics_commands,
)
from vigil.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console-script entry point
    app()
