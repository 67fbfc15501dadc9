"""``vigil fraud ...``: train a risk model on a labelled history, list, promote.

The history is a labelled simulation (``ingestion.simulator.fraud``) replayed through the
fraud agent's own screening on a scratch key space of the configured Redis (removed
afterwards): the signals the model learns from are computed by the code that will feed
it. Or the deployment's own history: the screening decisions and ``fraud.labels`` the
archive kept in the lake (``agents.archive``), each payment with the signals it was
screened on.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.fraud.history import examples, lake_examples, replay
from agents.fraud.labels import LabelStore
from agents.fraud.model_store import ModelStore, check_version
from agents.fraud.screening import Screener
from agents.fraud.training import Example, train
from ingestion.simulator.fraud import FraudSimulation
from tools.lake import ParquetLake
from vigil.runtime.stack import Stack, discover
from vigil.settings import Settings
from vigil.wiring.clients import redis_client

#: the label delay left between the training days, the held-out days and the day of
#: training (most customer reports are in by then)
GAP_DAYS = 2
HELD_DAYS = 4
#: the shortest history that leaves training days before the held-out ones and the gaps
MIN_DAYS = 2 * GAP_DAYS + HELD_DAYS + 3


def models_dir(settings: Settings) -> Any:
    return settings.data_dir / "fraud" / "models"


def train_simulated(
    settings: Settings,
    console: Console,
    *,
    version: str,
    seed: int,
    shoppers: int,
    days: int,
    promote: bool,
) -> dict[str, Any]:
    """Simulate ``days`` of labelled payments, replay them, train with the last days held
    out; save (and promote, if asked and it beats the current model). Returns its meta."""
    check_version(version)
    if days < MIN_DAYS:
        raise ValueError(f"--days must be at least {MIN_DAYS}")
    with Stack(discover(settings), kafka=False) as eff:
        return _train(eff, console, version=version, seed=seed, shoppers=shoppers, days=days,
                      promote=promote)  # fmt: skip


#: the model the embedded default trains on its first run with features on
BOOTSTRAP: dict[str, Any] = {"version": "sim-bootstrap", "seed": 11, "shoppers": 500, "days": 30}


def ensure_model(settings: Settings, console: Console) -> str | None:
    """With behaviour features and the model on and no model promoted yet, train one on
    the simulated history and promote it (about 15 s, once per Redis): the first run of
    the embedded default has a model. Returns the promoted version (None: the model is
    off)."""
    if not (settings.fraud_features and settings.fraud_model):
        return None
    client = redis_client(settings)
    store = ModelStore(models_dir(settings), client, settings.redis_prefix)
    current = store.promoted()
    if current is not None:
        return current
    version = str(BOOTSTRAP["version"])
    if version in store.versions():  # trained before, this Redis is new: publish it again
        store.promote(version, force=True)
        return version
    console.print("no fraud risk model yet: training one on a simulated month (once)")
    b = BOOTSTRAP
    _train(settings, console, version=version, seed=int(b["seed"]),
           shoppers=int(b["shoppers"]), days=int(b["days"]), promote=True)  # fmt: skip
    return version


def _train(eff: Settings, console: Console, *, version: str, seed: int, shoppers: int,
           days: int, promote: bool) -> dict[str, Any]:  # fmt: skip
    client = redis_client(eff)
    history = FraudSimulation(seed=seed, shoppers=shoppers, days=days).run()
    scratch = f"{eff.redis_prefix}:train{uuid.uuid4().hex[:8]}"
    console.print(
        f"replaying {len(history.payments):,} simulated payments "
        f"({sum(p.fraud for p in history.payments):,} fraudulent) through screening"
    )
    try:
        work = eff.model_copy(
            update={"redis_prefix": scratch, "fraud_features": True, "fraud_model": False}
        )
        rows = replay(history, Screener(client, work), LabelStore(client, scratch))
    finally:
        keys = list(client.scan_iter(f"{scratch}:*", count=1000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])

    meta = {"kind": "simulated", "seed": seed, "shoppers": shoppers, "days": days}
    return _fit(eff, console, examples(rows, history.labels, history.start + timedelta(days=days)),
                until=history.start + timedelta(days=days), history=meta, version=version,
                promote=promote)  # fmt: skip


def train_lake(
    settings: Settings, console: Console, *, version: str, promote: bool
) -> dict[str, Any]:
    """Train on the deployment's own history: the screening decisions and labels the
    archive kept in the lake (``vigil lake archive``), the last days held out."""
    check_version(version)
    with Stack(discover(settings), kafka=False) as eff:
        lake = ParquetLake(eff.lake_path, eff.lake_hash_key.get_secret_value())
        screenings, labels = lake.screenings(), lake.labels()
        rows = lake_examples(screenings, labels)
        if not rows:
            raise ValueError(
                f"the lake ({eff.lake_path}) has no screening decisions: run `vigil lake "
                "archive` where the fraud agent publishes its decisions"
            )
        first, until = rows[0].at, rows[-1].at
        span = (until - first).total_seconds() / 86400
        if span < MIN_DAYS:
            raise ValueError(
                f"the lake's screenings span {span:.1f} days ({first:%Y-%m-%d} to "
                f"{until:%Y-%m-%d}); training needs at least {MIN_DAYS}"
            )
        console.print(
            f"{len(rows):,} screened payments in the lake from {first:%Y-%m-%d} to "
            f"{until:%Y-%m-%d}, {sum(r.fraud for r in rows):,} with a fraud label "
            f"({len(labels):,} labels)"
        )
        meta = {"kind": "lake", "payments": len(rows), "from": first.isoformat(),
                "until": until.isoformat(), "labels": len(labels)}  # fmt: skip
        return _fit(eff, console, rows, until=until, history=meta, version=version,
                    promote=promote)  # fmt: skip


def _fit(eff: Settings, console: Console, rows: list[Example], *, until: datetime,
         history: dict[str, Any], version: str, promote: bool) -> dict[str, Any]:  # fmt: skip
    """Train on ``rows`` with the days before ``until`` held out (a gap for the labels'
    delay on each side); save, publish, and promote if asked and better."""
    held_until = until - timedelta(days=GAP_DAYS)
    held_from = held_until - timedelta(days=HELD_DAYS)
    model, hx, hy = train(rows, train_until=held_from - timedelta(days=GAP_DAYS),
                          held_from=held_from, held_until=held_until, version=version,
                          review_s=eff.fraud_card_review_s)  # fmt: skip
    model.meta["history"] = history
    client = redis_client(eff)
    store = ModelStore(models_dir(eff), client, eff.redis_prefix)
    where = store.save(model, hx, hy)
    store.publish(version)
    m = model.meta["metrics"]
    console.print(
        f"model {version} saved in {where}: held-out PR-AUC {m['pr_auc']:.3f}, "
        f"recall {m['recall']:.1%} at {m['false_flags']:.2%} genuine flagged"
    )
    if promote:
        figures = store.promote(version)
        console.print(f"model {version} promoted ({_against(figures)})")
    return model.meta


def promote(settings: Settings, console: Console, version: str, force: bool) -> None:
    with Stack(discover(settings), kafka=False) as eff:
        store = ModelStore(models_dir(eff), redis_client(eff), eff.redis_prefix)
        figures = store.promote(version, force=force)
        console.print(
            f"model {version} promoted ({_against(figures)}); agents load it within "
            f"{eff.fraud_model_check_s:g} s"
        )


def list_models(settings: Settings, console: Console) -> None:
    with Stack(discover(settings), kafka=False) as eff:
        store = ModelStore(models_dir(eff), redis_client(eff), eff.redis_prefix)
        current = store.promoted()
        table = Table("version", "promoted", "trained on", "held-out PR-AUC", "recall", "flagged")
        for v in store.versions():
            meta = store.load(v).meta
            m = meta.get("metrics", {})
            table.add_row(
                v,
                "yes" if v == current else "",
                str(meta.get("history", {})),
                f"{m.get('pr_auc', float('nan')):.3f}",
                f"{m.get('recall', 0):.1%}",
                f"{m.get('false_flags', 0):.2%}",
            )
        console.print(table)


def _against(figures: dict[str, Any]) -> str:
    mine = figures["candidate"]["pr_auc"]
    current = figures["current"]
    if current is None or current.get("pr_auc") is None:
        return f"PR-AUC {mine:.3f}; no model to beat"
    return (
        f"PR-AUC {mine:.3f} against {current['version']}'s {current['pr_auc']:.3f} on the same days"
    )
