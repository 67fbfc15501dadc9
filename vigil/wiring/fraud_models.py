"""``vigil fraud ...``: train a risk model on a labelled history, list, promote.

The history is a labelled simulation (``ingestion.simulator.fraud``) replayed through the
fraud agent's own screening on a scratch key space of the configured Redis (removed
afterwards): the signals the model learns from are computed by the code that will feed
it. Training on the recorded decisions and ``fraud.labels`` of a live deployment is the
next step (this module is where it goes).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.fraud.history import examples, replay
from agents.fraud.labels import LabelStore
from agents.fraud.model_store import ModelStore, check_version
from agents.fraud.screening import Screener
from agents.fraud.training import train
from ingestion.simulator.fraud import FraudSimulation
from vigil.runtime.stack import Stack, discover
from vigil.settings import Settings
from vigil.wiring.clients import redis_client

#: the label delay left between the training days, the held-out days and the day of
#: training (most customer reports are in by then)
GAP_DAYS = 2
HELD_DAYS = 4


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
    if days < 2 * GAP_DAYS + HELD_DAYS + 3:
        raise ValueError(f"--days must be at least {2 * GAP_DAYS + HELD_DAYS + 3}")
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

    def day(d: int) -> datetime:
        return history.start + timedelta(days=d)

    now = day(days)
    held_until = day(days - GAP_DAYS)
    held_from = day(days - GAP_DAYS - HELD_DAYS)
    model, hx, hy = train(
        examples(rows, history.labels, now),
        train_until=day(days - 2 * GAP_DAYS - HELD_DAYS),
        held_from=held_from,
        held_until=held_until,
        version=version,
    )
    model.meta["history"] = {
        "kind": "simulated",
        "seed": seed,
        "shoppers": shoppers,
        "days": days,
    }
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
