"""The bench's round count is checked before anything starts (no broker, no bench run)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vigil.cli import app

#: never a count the bench accepts (1-20): out of range, not a number, hostile text
NOT_A_ROUND_COUNT = st.one_of(
    st.integers(max_value=0).map(str),
    st.integers(min_value=21).map(str),
    st.sampled_from(["", "1e9", "3.5", "../3", "NaN", "\x00", "\ud800", "9" * 5000, "-"]),
    st.text(min_size=1).filter(lambda s: not s.strip().lstrip("+").isdigit()),
)


@settings(max_examples=60, deadline=None)
@given(rounds=NOT_A_ROUND_COUNT)
def test_bench_fraud_refuses_a_round_count_it_cannot_run(rounds: str) -> None:
    result = CliRunner().invoke(app, ["bench", "fraud", "--rounds", rounds])
    assert result.exit_code == 2, result.output
    assert "--rounds" in result.output
