"""A world outline for the analysts' case map, from data installed with Vigil (nothing is
fetched at run time): the country polygons of the ``geo-intel-offline`` package (Natural
Earth's, MIT), thinned to what a case's map can show (points 0.2 degrees apart and
more, rings under 0.4 degrees across dropped)."""

from __future__ import annotations

import gzip
import json
import logging
from functools import lru_cache
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

#: the package's data file (its own layout: ``{id: {exterior | exteriors: [[lat, lon]]}}``)
SOURCE = ("geo_intel_offline", "data/polygons.json.gz")
STEP_DEG = 0.2


def _rings(country: dict[str, Any]) -> list[list[list[float]]]:
    rings = country.get("exteriors") if country.get("multi") else [country.get("exterior")]
    return [r for r in rings or [] if isinstance(r, list)]


def thin(ring: list[list[float]], step: float = STEP_DEG) -> list[list[float]]:
    """``[[lat, lon]]`` as ``[[lon, lat]]`` rounded to hundredths, each point at least
    ``step`` from the last kept one; [] for a ring smaller than two steps across."""
    out: list[list[float]] = []
    for lat, lon in ((p[0], p[1]) for p in ring if len(p) >= 2):
        if out and abs(lon - out[-1][0]) < step and abs(lat - out[-1][1]) < step:
            continue
        out.append([round(lon, 2), round(lat, 2)])
    lons, lats = [p[0] for p in out], [p[1] for p in out]
    if len(out) < 3 or max(lons) - min(lons) + max(lats) - min(lats) < 2 * step:
        return []
    return out


@lru_cache(maxsize=1)
def outline() -> bytes:
    """The outline as JSON ``{"rings": [[[lon, lat], ...], ...], "source": ...}``; with
    no rings (and the reason) when the package's data cannot be read."""
    package, name = SOURCE
    try:
        raw = (resources.files(package) / name).read_bytes()
        countries = json.loads(gzip.decompress(raw))
        rings = [t for c in countries.values() for r in _rings(c) if (t := thin(r))]
        return json.dumps({"rings": rings, "source": "Natural Earth, via geo-intel-offline"},
                          separators=(",", ":")).encode()  # fmt: skip
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError, AttributeError) as exc:
        log.warning("no world outline for the case map (%s): the map shows a grid only", exc)
        return json.dumps({"rings": [], "error": f"{type(exc).__name__}: {exc}"}).encode()
