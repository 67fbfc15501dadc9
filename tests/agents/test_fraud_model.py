"""The learned risk model on a real Redis: trained on a small labelled simulation,
promoted, loaded by a running screener without a restart, scored in shadow, and its
bands turned into actions with their reasons in words."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis

from agents.fraud.agent import confirmation
from agents.fraud.history import Replayed, examples, replay
from agents.fraud.inputs import FEATURES, RISING
from agents.fraud.labels import LabelStore
from agents.fraud.model import RiskModel
from agents.fraud.model_store import ModelError, ModelStore
from agents.fraud.screening import Screener
from agents.fraud.training import train
from ingestion.contracts import Transaction
from ingestion.simulator.fraud import FraudHistory, FraudSimulation
from tests.conftest import base_settings

DAYS = 14


@pytest.fixture(scope="module")
def trained(redis_url: str) -> Iterator[tuple[FraudHistory, list[Replayed], RiskModel, Any]]:
    """A model trained on 80 simulated shoppers' two weeks (days 0-5, held out 8-11)."""
    client = redis.Redis.from_url(redis_url)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    history = FraudSimulation(seed=3, shoppers=80, days=DAYS).run()
    s = base_settings(redis_prefix=prefix, fraud_features=True, fraud_model=False)
    rows = replay(history, Screener(client, s), LabelStore(client, prefix))

    def day(d: int) -> Any:
        return history.start + timedelta(days=d)

    model, hx, hy = train(examples(rows, history.labels, day(DAYS)), train_until=day(6),
                          held_from=day(8), held_until=day(12), version="m1")  # fmt: skip
    yield history, rows, model, (hx, hy)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def store(redis_client: tuple[Any, str], tmp_path: Path, trained: Any) -> ModelStore:
    client, prefix = redis_client
    _history, _rows, model, (hx, hy) = trained
    store = ModelStore(tmp_path / "models", client, prefix.rstrip(":"))
    store.save(model, hx, hy)
    return store


def screener(store: ModelStore, **overrides: Any) -> Screener:
    s = base_settings(
        **{
            "redis_prefix": store.key.removesuffix(":fraud:model"),
            "fraud_features": True,
            "fraud_model_check_s": 0.05,
            **overrides,
        }
    )
    return Screener(store.client, s)


def payments(trained: Any, n: int = 300) -> list[Transaction]:
    history: FraudHistory = trained[0]
    return [p.tx for p in history.payments[-n:]]


def test_the_simulation_is_seeded_labelled_and_late(trained: Any) -> None:
    history, _rows, _model, _held = trained
    again = FraudSimulation(seed=3, shoppers=80, days=DAYS).run()
    assert [p.tx for p in again.payments] == [p.tx for p in history.payments]
    assert again.labels == history.labels
    fraud = {p.tx.transaction_id: p for p in history.payments if p.fraud}
    assert {p.scenario for p in fraud.values()} >= {"stolen_card", "cnp_stolen_number"}
    when = {p.tx.transaction_id: p.tx.timestamp for p in history.payments}
    for x in history.labels:
        assert x.known_at >= when[x.transaction_id]  # never known before it happened
        assert (x.label == "fraud") == (x.transaction_id in fraud)


def test_a_model_is_saved_with_its_features_bands_and_held_out_figures(
    store: ModelStore, trained: Any
) -> None:
    meta = store.load("m1").meta
    assert meta["features"] == list(trained[2].features)
    assert 0 < meta["bands"]["medium"] <= meta["bands"]["high"] < 1
    assert meta["metrics"]["frauds"] >= 5
    assert 0 < meta["metrics"]["pr_auc"] <= 1
    with pytest.raises(ModelError, match="exists already"):
        store.save(trained[2], *trained[3])
    with pytest.raises(ModelError, match="a model version is"):
        store.load("../m1")


def test_promotion_is_loaded_by_a_running_screener_without_a_restart(
    store: ModelStore, trained: Any
) -> None:
    live = screener(store)
    batch = payments(trained)
    before = live.screen(batch[:10])
    assert "model_risk" not in before[0].signals  # nothing promoted: the rules alone
    store.promote("m1")
    time.sleep(0.1)
    first = live.screen(batch[10:20])
    assert {d.signals["model_version"] for d in first} == {"m1"}
    # a second version, promoted with --force (the same trees cannot beat themselves)
    model = trained[2]
    twin = RiskModel(model.booster, {**model.meta, "version": "m2"})
    store.save(twin, *trained[3])
    with pytest.raises(ModelError, match="does not beat m1"):
        store.promote("m2")
    store.promote("m2", force=True)
    time.sleep(0.1)
    second = live.screen(batch[20:30])
    assert {d.signals["model_version"] for d in second} == {"m2"}
    assert live.models is not None
    assert live.models.loads == 2


def test_a_screener_loads_the_promoted_model_before_its_first_batch(
    store: ModelStore, trained: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store.promote("m1")
    live = screener(store, fraud_model_check_s=3600.0)
    assert live.models is not None
    assert live.models.loads == 0
    live.load()  # what a started agent does first
    assert live.models.loads == 1
    decided = live.screen(payments(trained)[:10])
    assert {d.signals["model_version"] for d in decided} == {"m1"}
    assert live.models.loads == 1  # the batch did not load it again
    # a Redis that cannot answer at start defers the load to the first batch, and says so
    gone = base_settings(redis_prefix="gone", fraud_features=True)
    dead = Screener(redis.Redis(port=1, socket_connect_timeout=0.2), gone)
    dead.load()
    assert "risk model not loaded at start" in caplog.text
    assert dead.models is not None
    assert dead.models.loads == 0


def test_a_shadow_model_is_scored_beside_and_decides_nothing(
    store: ModelStore, trained: Any
) -> None:
    store.promote("m1")
    model = trained[2]
    cautious = {**model.meta, "version": "m1-shadow", "bands": {"medium": 0.0, "high": 0.0}}
    store.save(RiskModel(model.booster, cautious), *trained[3])
    store.publish("m1-shadow")
    # (no card reviews: the second screening of the same payments would see the first's)
    plain = screener(store, fraud_card_review_s=0).screen(payments(trained, 100))
    shadowed = screener(store, fraud_model_shadow="m1-shadow", fraud_card_review_s=0).screen(
        payments(trained, 100)
    )
    assert [d.outcome for d in shadowed] == [d.outcome for d in plain]
    for d in shadowed:
        assert d.signals["model_shadow_version"] == "m1-shadow"
        assert d.signals["model_shadow_risk"] == d.signals["model_risk"]  # the same trees


def with_bands(
    store: ModelStore, model: RiskModel, version: str, medium: float, high: float
) -> None:
    """Promote ``model`` with these bands (written as promotion writes it)."""
    meta = {**model.meta, "version": version, "bands": {"medium": medium, "high": high}}
    store.client.hset(f"{store.key}:{version}", mapping={"model": model.text(),
                                                         "meta": json.dumps(meta)})  # fmt: skip
    store.client.set(f"{store.key}:promoted", version)


@pytest.mark.parametrize(
    ("medium", "high", "outcome"),
    [(2.0, 2.0, "allow"), (0.0, 2.0, "hold"), (0.0, 0.0, "escalate")],
)
def test_each_band_has_its_action_and_every_flag_its_reasons(
    store: ModelStore, trained: Any, medium: float, high: float, outcome: str
) -> None:
    with_bands(store, trained[2], f"b{outcome}", medium, high)
    decided = screener(store).screen(payments(trained, 60))
    hard = {d.tx.transaction_id for d in decided if d.hard_risk >= 0.5}
    for d in decided:
        expect = "escalate" if d.tx.transaction_id in hard else outcome
        assert d.outcome == expect, d.reasons
        if d.outcome == "allow":
            continue
        model_line = [r for r in d.reasons if r.startswith(f"risk model b{outcome}:")]
        if d.tx.transaction_id not in hard:
            assert model_line, d.reasons
            assert len(d.reasons) >= 2, "the signals behind the score, in words"
        if d.outcome == "hold":
            assert d.pending_action == "hold"
            alert = confirmation(d)
            assert alert.audience == "customer"
            assert alert.refs["transaction_id"] == d.tx.transaction_id
        if d.outcome == "escalate" and d.tx.transaction_id not in hard:
            assert d.risk >= 0.8  # the graph proposes a block for an analyst


def test_the_hard_rules_stay_floors_whatever_the_model_says(
    store: ModelStore, trained: Any
) -> None:
    from tests.agents.test_screening import LONDON, PARIS, tx

    with_bands(store, trained[2], "lenient", 2.0, 2.0)  # the model would allow everything
    live = screener(store)
    live.screen([tx(1, lat=LONDON[0], lon=LONDON[1])])
    (paris,) = live.screen([tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1])])
    assert paris.outcome == "escalate"
    assert paris.risk >= 0.97
    assert paris.signals["model_band"] == "low"
    assert any("impossible travel" in r for r in paris.reasons)


def test_risk_never_falls_as_a_rising_signal_rises(trained: Any) -> None:
    """The model's monotone columns (``RISING``): on the held-out rows, raising one of
    them (the amount against the customer's usual, the card's last hour, the terminal's
    confirmed frauds, the distance from home) never lowers a payment's score."""
    _history, _rows, model, (hx, _hy) = trained
    assert model.meta["params"]["monotone_constraints"] == [int(f in RISING) for f in FEATURES]
    base = np.asarray(model.booster.predict(hx))
    moved = 0
    for name in ("amount_vs_usual", "card_payments_1h", "terminal_frauds", "home_distance_km"):
        j = FEATURES.index(name)
        up = hx.copy()
        col = np.nan_to_num(up[:, j], nan=0.0)
        up[:, j] = col + np.maximum(np.abs(col), 1.0) * 4  # well above where it was
        higher = np.asarray(model.booster.predict(up))
        assert (higher >= base - 1e-12).all(), name
        moved += int((higher > base + 1e-9).sum())
    assert moved > 0  # the constraints hold on columns the trees do use


def test_the_explanations_contributions_add_up_to_the_score(trained: Any) -> None:
    """Each payment's per-feature contributions (its leaves' paths, ``attribution``), with
    the trees' root values, are its raw score; the top one is the feature TreeSHAP puts
    first for most flagged payments, and a payment's words name what pushed it up."""
    _history, rows, model, _held = trained
    signals = [r.screened.signals for r in rows[:400]]
    x = model.inputs(signals)
    contrib = model.contributions(signals, x)
    raw = model.booster.predict(x, raw_score=True)
    _paths, _offsets, roots = model.paths
    np.testing.assert_allclose(contrib.sum(axis=1) + roots, raw, rtol=1e-9, atol=1e-9)
    risky = np.argsort(-raw)[:40]
    shap = model.booster.predict(x[risky], pred_contrib=True)[:, : len(model.features)]
    same = np.mean(np.argmax(contrib[risky], axis=1) == np.argmax(shap, axis=1))
    assert same >= 0.7, same
    words = model.explain([signals[i] for i in risky], x=x[risky])
    assert all(1 <= len(w) <= 3 for w in words)


def test_a_trained_model_is_walked_by_compiled_code_as_lightgbm_scores_it(trained: Any) -> None:
    """The project's own model (its categorical merchant code, its NaN inputs) passes the
    check at load (``trees``): screening scores it without LightGBM's predict."""
    _history, rows, model, _held = trained
    assert model.trees is not None
    signals = [r.screened.signals for r in rows]
    x = model.inputs(signals)
    assert np.isnan(x).any()
    assert np.array_equal(model.score(signals, x), model.booster.predict(x, num_threads=1))
    assert np.array_equal(model.trees.leaves(x), model.booster.predict(x, pred_leaf=True))
