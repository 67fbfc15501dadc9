"""`vigil agents run --escalation-workers` is checked before anything starts (no broker,
no replica, no worker process)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vigil.cli import app

#: never a number of escalation workers the command accepts (0-64)
NOT_A_WORKER_COUNT = st.one_of(
    st.integers(max_value=-1).map(str),
    st.integers(min_value=65).map(str),
    st.sampled_from(["", "1e9", "2.5", "../1", "NaN", "\x00", "\ud800", "9" * 5000, "-", "/"]),
    st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+-").isdigit()),
)


@settings(max_examples=60, deadline=None)
@given(workers=NOT_A_WORKER_COUNT)
def test_agents_run_refuses_a_worker_count_it_cannot_run(workers: str) -> None:
    result = CliRunner().invoke(app, ["agents", "run", "--escalation-workers", workers])
    assert result.exit_code == 2, result.output
    assert "--escalation-workers" in result.output
