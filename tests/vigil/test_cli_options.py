"""Count options are checked before anything starts (no broker, no bench, no replica):
the bench's --rounds, agents run's --escalation-workers, simulate's --fraud-days and the
lake archive's --timeout."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vigil.cli import app


def not_a_count(low: int, high: int) -> st.SearchStrategy[str]:
    """Never a count in ``low..high``: out of range, not a number, hostile text."""
    return st.one_of(
        st.integers(max_value=low - 1).map(str),
        st.integers(min_value=high + 1).map(str),
        st.sampled_from(["", "1e9", "2.5", "../1", "NaN", "\x00", "\ud800", "9" * 5000, "-", "/"]),
        st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+-").isdigit()),
    )


def refused(args: list[str], option: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert option in result.output


@settings(max_examples=60, deadline=None)
@given(rounds=not_a_count(1, 20))
def test_bench_fraud_refuses_a_round_count_it_cannot_run(rounds: str) -> None:
    refused(["bench", "fraud", "--rounds", rounds], "--rounds")


@settings(max_examples=60, deadline=None)
@given(workers=not_a_count(0, 64))
def test_agents_run_refuses_a_worker_count_it_cannot_run(workers: str) -> None:
    refused(["agents", "run", "--escalation-workers", workers], "--escalation-workers")


@settings(max_examples=60, deadline=None)
@given(days=not_a_count(0, 120))
def test_simulate_refuses_a_fraud_history_length_it_cannot_make(days: str) -> None:
    refused(["simulate", "--fraud-days", days], "--fraud-days")


@settings(max_examples=60, deadline=None)
@given(
    seconds=st.one_of(
        st.sampled_from(["nan", "NaN", "inf", "-inf", "0", "0.5", "86401", "1e400"]),
        st.floats(max_value=0.999),
        st.floats(min_value=86400.001, allow_infinity=True, allow_nan=False),
        st.text(min_size=1).filter(lambda s: not s.strip().replace(".", "", 1).isdigit()),
    )
)
def test_lake_archive_refuses_a_timeout_it_cannot_keep(seconds: str | float) -> None:
    refused(["lake", "archive", "--timeout", str(seconds)], "--timeout")
