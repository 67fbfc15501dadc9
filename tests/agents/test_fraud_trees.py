"""The risk model's trees walked by compiled code score every row as LightGBM does:
numeric and categorical splits, NaN, zeros, negatives, infinities and huge numbers."""

from __future__ import annotations

import logging
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agents.fraud import trees as trees_module
from agents.fraud.trees import Trees, compiled

N_FEATURES = 6
CATEGORY = 3  # a categorical feature with 90 codes: bitsets of three words


def _data(rng: np.random.Generator, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, N_FEATURES)) * [1, 10, 100, 1, 1e6, 0.01]
    x[:, CATEGORY] = rng.integers(0, 90, size=n)
    x[rng.random((n, N_FEATURES)) < 0.1] = np.nan  # missing values: NaN splits
    x[rng.random(n) < 0.2, 5] = 0.0
    y = np.nan_to_num(x[:, 0]) + (x[:, CATEGORY] % 7 == 0) + rng.normal(size=n) > 1.2
    return x, y.astype(float)


def _booster(**params: Any) -> lgb.Booster:
    x, y = _data(np.random.default_rng(1))
    data = lgb.Dataset(x, y, categorical_feature=[CATEGORY], free_raw_data=False)
    base = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 5, "verbose": -1,
            "seed": 3, "num_threads": 1, "max_cat_to_onehot": 4}  # fmt: skip
    return lgb.train({**base, **params}, data, 40)


@pytest.fixture(scope="module")
def models() -> list[tuple[lgb.Booster, Trees]]:
    out = []
    for params in ({}, {"zero_as_missing": True}, {"use_missing": False}):
        booster = _booster(**params)
        walked = compiled(booster, N_FEATURES)
        assert walked is not None, params
        out.append((booster, walked))
    return out


def _cuts(models: list[tuple[lgb.Booster, Trees]]) -> list[float]:
    cuts = np.concatenate([t.threshold for _, t in models])
    return sorted({*cuts.tolist(), *np.nextafter(cuts, np.inf).tolist(),
                   *np.nextafter(cuts, -np.inf).tolist()})  # fmt: skip


HOSTILE = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -1e-40, 1e-35, float(np.float32(1e-35)),
           -1.0, -0.5, 0.5, 2.0**31, 2.0**31 - 0.5, -(2.0**31), 1e300, -1e300, 89.0, 90.0, 95.9,
           96.0]  # fmt: skip


def test_the_walk_scores_the_training_rows_as_lightgbm(models: Any) -> None:
    x, _y = _data(np.random.default_rng(7))
    for booster, walked in models:
        assert np.array_equal(walked.predict(x), booster.predict(x, num_threads=1))
        want = booster.predict(x, pred_leaf=True, num_threads=1)
        assert np.array_equal(walked.leaves(x), want)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_row_is_scored_exactly_as_lightgbm_scores_it(models: Any, data: st.DataObject) -> None:
    value = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                      st.sampled_from(HOSTILE), st.sampled_from(_cuts(models)),
                      st.integers(-3, 200).map(float))  # fmt: skip
    x = data.draw(arrays(np.float64, st.tuples(st.integers(1, 40), st.just(N_FEATURES)),
                         elements=value))  # fmt: skip
    for booster, walked in models:
        raw, prob, leaves = walked.walk(x, leaves=True)
        assert np.array_equal(raw, booster.predict(x, raw_score=True, num_threads=1))
        assert np.array_equal(prob, booster.predict(x, num_threads=1))
        assert np.array_equal(leaves, booster.predict(x, pred_leaf=True, num_threads=1))


def test_a_model_it_cannot_walk_is_left_to_lightgbm(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _data(np.random.default_rng(2))
    regression = lgb.train({"objective": "regression", "verbose": -1}, lgb.Dataset(x, y), 5)
    with caplog.at_level(logging.WARNING, logger=trees_module.__name__):
        assert compiled(regression, N_FEATURES) is None
    assert "scored by LightGBM" in caplog.text
    assert "objective" in caplog.text


def test_trees_that_disagree_with_lightgbm_on_the_probe_are_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The check at load can fail: one split's threshold moved a little is found."""
    booster = _booster()
    real = trees_module._parse

    def nudged(text: str) -> Trees:
        t = real(text)
        numeric = np.flatnonzero((t.kind & 1) == 0)
        t.threshold[numeric[0]] = np.nextafter(t.threshold[numeric[0]], np.inf)
        return t

    monkeypatch.setattr(trees_module, "_parse", nudged)
    with caplog.at_level(logging.WARNING, logger=trees_module.__name__):
        assert compiled(booster, N_FEATURES) is None
    assert "disagree" in caplog.text


def test_without_a_folder_to_cache_in_the_walk_is_compiled_all_the_same(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A read-only install with no writable home: numba finds nowhere to cache the
    compiled code, and the walk is compiled at each start instead of failing the import."""
    from numba.core import caching

    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    with caplog.at_level(logging.WARNING, logger=trees_module.__name__):
        walk = trees_module._jit(trees_module._walk)
    assert "not cached on disk" in caplog.text
    booster = _booster()
    trees = trees_module._parse(booster.model_to_string())
    x, _y = _data(np.random.default_rng(5), n=50)
    raw, prob = np.empty(len(x)), np.empty(len(x))
    walk(x, trees.feature, trees.threshold, trees.kind, trees.left, trees.right,
         trees.cat_start, trees.cat_len, trees.cats, trees.roots, trees.leaf_value,
         trees.leaf_base, trees.sigmoid, raw, prob, np.empty((0, 0), np.int32), False)  # fmt: skip
    assert np.array_equal(prob, booster.predict(x, num_threads=1))
