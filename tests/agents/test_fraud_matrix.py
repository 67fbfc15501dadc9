"""The risk model's input: a batch's signals gathered in one pass (``inputs.Raw``) read
exactly as one signal at a time would, whatever the values (the lake's rows come from
outside this process)."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.fraud.behaviour import SIGNALS, Answers, Features
from agents.fraud.inputs import COLUMNS, FEATURES, NUMERIC, Raw, _value, matrix

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),  # control characters and lone surrogates included
)
ROWS = st.lists(
    st.dictionaries(st.sampled_from([*NUMERIC, "merchant_category", "channel", "new_category"]),
                    VALUES, max_size=len(NUMERIC) + 3),
    max_size=20,
)  # fmt: skip


def one_at_a_time(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.array([_value(r.get(name)) for r in rows], dtype=np.float64)


@settings(max_examples=80, deadline=None)
@given(ROWS)
def test_one_pass_reads_every_signal_as_one_at_a_time_would(rows: list[dict[str, Any]]) -> None:
    raw = Raw(rows)
    for name in NUMERIC:
        np.testing.assert_array_equal(raw(name), one_at_a_time(rows, name))
    out = matrix(rows)
    assert out.shape == (len(rows), len(FEATURES))
    # the columns computed a group at a time are each column's own definition
    one_by_one = np.empty_like(out)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, name in enumerate(FEATURES):
            one_by_one[:, j] = COLUMNS[name](raw)
    np.testing.assert_array_equal(out, one_by_one)


@settings(max_examples=40, deadline=None)
@given(ROWS, st.permutations(FEATURES).flatmap(
    lambda order: st.integers(1, len(order)).map(lambda k: order[:k])))  # fmt: skip
def test_a_model_with_its_own_columns_gets_them_in_its_order(
    rows: list[dict[str, Any]], features: list[str]
) -> None:
    """A model trained by another release names its own columns, in its own order."""
    full = matrix(rows)
    np.testing.assert_array_equal(matrix(rows, features),
                                  full[:, [FEATURES.index(f) for f in features]])  # fmt: skip


def test_every_numeric_signal_a_column_reads_is_gathered_in_the_one_pass() -> None:
    """A column reading a signal not in NUMERIC still works, a pass of its own: this
    keeps NUMERIC complete, so the hot path makes none."""
    rows = [{n: 1.5 for n in NUMERIC} | {"merchant_category": "coffee", "channel": "atm"}]
    raw = Raw(rows)
    for column in COLUMNS.values():
        column(raw)
    assert set(raw.names) == set(NUMERIC)
    assert not raw._more  # no column read a signal outside the table
    assert not math.isnan(float(matrix(rows)[0, FEATURES.index("merchant_category")]))


#: a behaviour answer's numbers: counts and sums (hundredths), "none" as -1, flags 0/1
ANSWER_VALUE = st.one_of(
    st.sampled_from([-1, 0, 1, 2, 0.5, 0.99, 1.01, 7]),
    st.integers(min_value=-1, max_value=2**53),
    st.floats(min_value=-1, max_value=1e15, allow_nan=False).map(lambda x: round(x, 2)),
)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(ANSWER_VALUE, min_size=len(SIGNALS), max_size=len(SIGNALS)),
                min_size=1, max_size=30))  # fmt: skip
def test_the_features_columns_read_as_their_signals_would(answers: list[list[float]]) -> None:
    """Screening gives the model the behaviour features as columns computed from the
    answers (``Answers.columns``): exactly what reading each decision's signals gives,
    whatever the numbers; and the matrix is the same either way."""
    packed = [struct.pack(f"<{len(SIGNALS)}d", *a) for a in answers]
    half = len(packed) // 2  # two parts, judged together
    parts = [Answers.parse(packed[:half]), Answers.parse(packed[half:])]
    batch = [f for part in parts for f in part.features]
    assert batch == [Features(a) for a in answers]
    rows: list[dict[str, Any]] = []
    for f in batch:
        row: dict[str, Any] = {"merchant_category": "coffee", "channel": "chip"}
        f.into(row)
        rows.append(row)
    known = Answers.columns(parts)
    by_rows = Raw(rows)
    assert known.names == SIGNALS
    for name in known.names:
        if name in NUMERIC:
            np.testing.assert_array_equal(known[name], by_rows(name), err_msg=name)
    np.testing.assert_array_equal(known["new_category"], by_rows.flag("new_category"))
    np.testing.assert_array_equal(matrix(rows, known=known), matrix(rows))
