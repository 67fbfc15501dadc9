"""Where risk models live: versioned folders under the data folder, the promoted one
published in Redis for every agent to load without a restart.

A version is ``<data_dir>/fraud/models/<version>/`` with ``model.txt`` (LightGBM's text
form), ``meta.json`` (features, bands, parameters, metrics) and ``heldout.npz`` (its
held-out rows and labels: a later candidate is compared with it on the same rows).
Promotion checks that the candidate beats the current model on the candidate's
held-out days (PR-AUC, both scored on the very same rows), then writes the model into
Redis (``<prefix>:fraud:model:<version>``) and points ``<prefix>:fraud:model:promoted``
at it. Agents (``ModelWatch``) read that pointer at most every ``check_s`` and load a
new version when it changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis

from agents.fraud.model import RiskModel
from agents.fraud.training import evaluate

log = logging.getLogger(__name__)

_VERSION = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class ModelError(ValueError):
    """A model cannot be saved, found, loaded or promoted (the message says why)."""


def check_version(version: str) -> str:
    """A version names a folder and a Redis key: keep it plain."""
    if not _VERSION.match(version):
        raise ModelError(
            f"a model version is 1-64 of a-z 0-9 . _ - (starting with a letter "
            f"or digit), not {version!r}"
        )
    return version


class ModelStore:
    def __init__(self, folder: Path, client: redis.Redis, service_prefix: str) -> None:
        self.folder = folder
        self.client = client
        self.key = f"{service_prefix}:fraud:model"

    def save(self, model: RiskModel, held_x: np.ndarray, held_y: np.ndarray) -> Path:
        where = self.folder / check_version(model.version)
        if where.exists():
            raise ModelError(f"model {model.version} exists already: pick another version")
        tmp = self.folder / f".{model.version}.tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "model.txt").write_text(model.text())
        (tmp / "meta.json").write_text(json.dumps(model.meta, indent=2, sort_keys=True))
        np.savez_compressed(tmp / "heldout.npz", x=held_x, y=held_y)
        os.replace(tmp, where)
        return where

    def versions(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if (p / "meta.json").is_file())

    def load(self, version: str) -> RiskModel:
        where = self.folder / check_version(version)
        if not (where / "meta.json").is_file():
            raise ModelError(f"no model {version} under {self.folder}")
        return RiskModel.from_text(
            (where / "model.txt").read_text(), (where / "meta.json").read_text()
        )

    def promoted(self) -> str | None:
        raw = self.client.get(f"{self.key}:promoted")
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)

    def compare(self, version: str) -> dict[str, Any]:
        """The candidate's and the promoted model's figures on the candidate's held-out
        rows (the promoted one absent: none to beat)."""
        candidate = self.load(version)
        held = np.load(self.folder / version / "heldout.npz")
        x, y = held["x"], held["y"]
        out: dict[str, Any] = {"candidate": evaluate(candidate, x, y), "current": None}
        current = self.promoted()
        if current is not None and current != version:
            try:
                out["current"] = {"version": current, **evaluate(self.load(current), x, y)}
            except ModelError:
                out["current"] = {"version": current, "pr_auc": None}
        return out

    def promote(self, version: str, *, force: bool = False) -> dict[str, Any]:
        """Promote ``version`` if it beats the current model on its held-out days (or
        ``force``); returns the comparison. Raises ModelError when it does not."""
        figures = self.compare(version)
        current = figures["current"]
        mine = figures["candidate"]["pr_auc"]
        if (current is not None and current.get("pr_auc") is not None and not force
                and not mine > current["pr_auc"]):  # fmt: skip
            raise ModelError(
                f"model {version} does not beat {current['version']} on its held-out days: "
                f"PR-AUC {mine:.4f} against {current['pr_auc']:.4f} (--force to promote anyway)"
            )
        self.publish(version)
        self.client.set(f"{self.key}:promoted", version)
        return figures

    def publish(self, version: str) -> None:
        """Put ``version`` where agents can load it (as the promoted or a shadow model)."""
        where = self.folder / check_version(version)
        _put(self.client, self.key, version, (where / "model.txt").read_text(),
             (where / "meta.json").read_text())  # fmt: skip


def publish_model(client: redis.Redis, service_prefix: str, model: RiskModel, *,
                  promote: bool) -> None:  # fmt: skip
    """Put a model (trained in memory, not saved) where agents load it, as promotion does
    (an eval's or a benchmark's model, under its own prefix)."""
    key = f"{service_prefix}:fraud:model"
    _put(client, key, model.version, model.text(), json.dumps(model.meta))
    if promote:
        client.set(f"{key}:promoted", model.version)


def _put(client: redis.Redis, key: str, version: str, model: str, meta: str) -> None:
    """A version's trees and meta under ``<key>:<version>``, where ``ModelWatch`` reads them."""
    client.hset(f"{key}:{version}", mapping={"model": model, "meta": meta})


class ModelWatch:
    """An agent's view of the promoted model (and a shadow one, scored beside it):
    re-read at most every ``check_s``; a new promotion is loaded without a restart."""

    def __init__(
        self,
        client: redis.Redis,
        service_prefix: str,
        *,
        check_s: float = 5.0,
        shadow: str | None = None,
    ) -> None:
        self.client = client
        self.key = f"{service_prefix}:fraud:model"
        self.check_s = check_s
        self.shadow_version = None if shadow is None else check_version(shadow)
        self._model: RiskModel | None = None
        self._shadow: RiskModel | None = None
        self._checked = -float("inf")
        self.loads = 0

    def _fetch(self, version: str) -> RiskModel | None:
        got = self.client.hmget(f"{self.key}:{version}", ["model", "meta"])
        if got[0] is None or got[1] is None:
            log.warning("model %s is promoted but not in Redis", version)
            return None
        return RiskModel.from_text(_text(got[0]), _text(got[1]))

    def current(self) -> RiskModel | None:
        now = time.monotonic()
        if now - self._checked < self.check_s:
            return self._model
        self._checked = now
        raw = self.client.get(f"{self.key}:promoted")
        version = None if raw is None else _text(raw)
        if version is None:
            self._model = None
        elif self._model is None or self._model.version != version:
            self._model = self._fetch(version) or self._model
            if self._model is not None and self._model.version == version:
                self.loads += 1
                log.info("risk model %s loaded", version)
        if self.shadow_version is not None and self._shadow is None:
            self._shadow = self._fetch(self.shadow_version)
        return self._model

    @property
    def shadow(self) -> RiskModel | None:
        return self._shadow


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
