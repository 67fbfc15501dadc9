"""Rolling per-asset features in Redis, and the deterministic degradation detector.

Per asset, Redis keeps the recent readings (a sorted set by time; members carry the
event id, so a re-delivered reading changes nothing) and, once learned, the healthy
baseline of every metric (mean and standard deviation of the first readings). Each
reading is judged against the readings up to its own time, so a re-delivered batch gets
the same verdicts. Per metric (temperatures, vibration, pressure, rpm, ...), stored as
the asset's latest features:

* level: mean of the last few readings; z-score of the level against the baseline;
* trend: least-squares slope per hour over the window;
* remaining useful life, for metrics with a failure limit: hours until the level reaches
  the limit at that slope.

An asset is degrading when a limited metric is ``z_threshold`` sd above its baseline and
rising, or is past its limit; it escalates when the remaining life is within the horizon.
"""

from __future__ import annotations

import bisect
import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis

from ingestion.contracts import SensorReading
from ingestion.redis_keys import as_text
from vigil.settings import Settings

#: asset type -> metric -> the level at which the asset is considered failed (the manuals)
LIMITS: dict[str, dict[str, float]] = {
    "centrifugal_pump": {"vibration_mm_s": 7.1, "bearing_temp_c": 75.0},
    "wind_turbine": {"gearbox_vibration_mm_s": 9.0, "gearbox_oil_temp_c": 85.0},
}
LEVEL_READINGS = 6


@dataclass(frozen=True)
class MetricState:
    metric: str
    level: float
    baseline_mean: float
    baseline_sd: float
    z: float
    slope_per_h: float
    limit: float | None
    rul_h: float | None

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in vars(self).items()}


@dataclass(frozen=True)
class Verdict:
    reading: SensorReading
    degrading: bool
    metrics: list[MetricState] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def rul_h(self) -> float | None:
        known = [m.rul_h for m in self.metrics if m.rul_h is not None]
        return min(known) if known else None

    @property
    def predicted_failure_at(self) -> datetime | None:
        rul = self.rul_h
        return None if rul is None else self.reading.timestamp + timedelta(hours=rul)


def _slope_per_h(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len(points) < 3:
        return 0.0
    xs = [p[0] / 3600 for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    if den == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den


class FeatureStore:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.s = settings
        self.prefix = f"{settings.redis_prefix}:maint"

    def _window_key(self, asset: str) -> str:
        return f"{self.prefix}:window:{asset}"

    def _baseline_key(self, asset: str) -> str:
        return f"{self.prefix}:baseline:{asset}"

    def _episode_key(self, asset: str) -> str:
        return f"{self.prefix}:open:{asset}"

    def features_key(self, asset: str) -> str:
        """The asset's latest features (JSON): level, z-score, trend, life left per metric."""
        return f"{self.prefix}:features:{asset}"

    def features(self, asset: str) -> dict[str, Any] | None:
        raw = self.client.get(self.features_key(asset))
        return None if raw is None else dict(json.loads(raw))

    def site_key(self, site: str) -> str:
        """Assets seen at a site (for regional signals)."""
        return f"{self.prefix}:site:{site}"

    def judge(self, readings: Sequence[SensorReading]) -> list[Verdict]:
        """Record a batch and judge every reading against the history up to its time."""
        s = self.s
        assets = list(dict.fromkeys(r.asset_id for r in readings))
        pipe = self.client.pipeline(transaction=False)
        for a in assets:
            pipe.zrange(self._window_key(a), 0, -1, withscores=True)
            pipe.get(self._baseline_key(a))
        replies = pipe.execute()
        # per asset: readings sorted by time, and the event ids among them
        windows: dict[str, list[tuple[float, dict[str, float]]]] = {}
        seen: dict[str, set[str]] = {}
        baselines: dict[str, dict[str, list[float]] | None] = {}
        for j, a in enumerate(assets):
            entries = [(json.loads(member), score) for member, score in replies[2 * j]]
            windows[a] = [(score, entry["m"]) for entry, score in entries]  # zrange: by time
            seen[a] = {entry["id"] for entry, _ in entries}
            raw = replies[2 * j + 1]
            baselines[a] = json.loads(raw) if raw else None

        write = self.client.pipeline(transaction=False)
        for site, asset in {(r.site, r.asset_id) for r in readings if r.site}:
            write.sadd(self.site_key(site), asset)
        verdicts = []
        for r in readings:
            ts = r.timestamp.timestamp()
            window = windows[r.asset_id]
            if r.event_id not in seen[r.asset_id]:
                seen[r.asset_id].add(r.event_id)
                bisect.insort(window, (ts, r.metrics), key=_time)
                write.zadd(
                    self._window_key(r.asset_id),
                    {json.dumps({"id": r.event_id, "m": r.metrics}, sort_keys=True): ts},
                )
            upto = window[: bisect.bisect_right(window, ts, key=_time)]
            if baselines[r.asset_id] is None and len(upto) >= s.maintenance_baseline_readings:
                base = _baseline(upto[: s.maintenance_baseline_readings])
                baselines[r.asset_id] = base
                write.set(self._baseline_key(r.asset_id), json.dumps(base), nx=True)
            verdicts.append(
                self._verdict(r, upto[-s.maintenance_window_readings :], baselines[r.asset_id])
            )
        keep = s.maintenance_window_readings + s.maintenance_baseline_readings
        latest = {v.reading.asset_id: v for v in verdicts}
        for a in assets:
            write.zremrangebyrank(self._window_key(a), 0, -keep - 1)
            v = latest[a]
            write.set(
                self.features_key(a),
                json.dumps(
                    {
                        "at": v.reading.timestamp.isoformat(),
                        "degrading": v.degrading,
                        "rul_h": v.rul_h,
                        "metrics": [m.as_dict() for m in v.metrics],
                    }
                ),
            )
        write.execute()
        return verdicts

    def _verdict(
        self,
        r: SensorReading,
        window: list[tuple[float, dict[str, float]]],
        baseline: dict[str, list[float]] | None,
    ) -> Verdict:
        limits = LIMITS.get(r.asset_type, {})
        if baseline is None:
            return Verdict(r, False)
        states, reasons, degrading = [], [], False
        for metric in sorted(baseline):
            points = [(t, m[metric]) for t, m in window if metric in m]
            if len(points) < LEVEL_READINGS:
                continue
            mean, sd = baseline[metric]
            sd = max(sd, 0.02 * abs(mean), 1e-6)
            level = statistics.fmean(v for _, v in points[-LEVEL_READINGS:])
            z = (level - mean) / sd
            slope = _slope_per_h(points)
            limit = limits.get(metric)
            rul: float | None = None
            if limit is not None and level >= limit:
                rul = 0.0
            elif limit is not None and slope > 0:
                rul = (limit - level) / slope
            states.append(MetricState(metric, level, mean, sd, z, slope, limit, rul))
            if limit is None:
                continue  # features and z-scores only: no failure limit to predict against
            if level >= limit or (z >= self.s.maintenance_z_threshold and slope > 0):
                degrading = True
                reasons.append(
                    f"{metric} at {level:.2f} ({z:.1f} sd above its normal {mean:.2f}), "
                    f"rising {slope:.3f}/h; limit {limit:g}"
                    + ("" if rul is None else f", about {rul:.0f} h of life left")
                )
        return Verdict(r, degrading, states, reasons)

    def open_episode(self, asset: str, event_id: str) -> bool:
        """Claim the asset's open degradation episode for this reading.

        True when this reading opened it (now or on an earlier delivery); False when an
        episode opened by another reading is still open (its work order is pending or
        raised, until a repair closes it)."""
        key = self._episode_key(asset)
        if self.client.set(key, event_id, nx=True):
            return True
        current = self.client.get(key)
        return current is not None and as_text(current) == event_id

    def open_episode_of(self, asset: str) -> str | None:
        """The reading that opened the asset's episode, while it is open (else None)."""
        raw = self.client.get(self._episode_key(asset))
        return None if raw is None else as_text(raw)

    def close_episode(self, asset: str) -> None:
        """A repair closes the episode and the asset learns a fresh baseline."""
        self.client.delete(
            self._episode_key(asset), self._window_key(asset), self._baseline_key(asset)
        )


def _time(entry: tuple[float, dict[str, float]]) -> float:
    return entry[0]


def _baseline(points: Sequence[tuple[float, dict[str, float]]]) -> dict[str, list[float]]:
    metrics = {name for _, m in points for name in m}
    out = {}
    for name in sorted(metrics):
        values = [m[name] for _, m in points if name in m and math.isfinite(m[name])]
        if len(values) >= 2:
            out[name] = [statistics.fmean(values), statistics.stdev(values)]
    return out
