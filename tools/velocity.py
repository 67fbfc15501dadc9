"""Impossible travel: the pure arithmetic, then the card-location state it needs.

``assess`` compares where a card was with where it is now. A card-not-present payment
or a missing location tells nothing about where the card physically was: such pairs are
"not comparable", never "infeasible". Distances under ``same_place_km`` are feasible
whatever the clock says (merchant geocoding is approximate); identical timestamps with a
real distance are infinitely fast; out-of-order events are compared on the absolute gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

EARTH_RADIUS_KM = 6371.0088
KM_PER_MILE = 1.609344
#: faster than a commercial flight, door to door, including a generous margin
DEFAULT_MAX_KMH = 1000.0
DEFAULT_SAME_PLACE_KM = 25.0


@dataclass(frozen=True, slots=True)
class Sighting:
    """Where and when a card was used."""

    transaction_id: str
    timestamp: datetime
    lat: float | None
    lon: float | None
    channel: str

    @property
    def located(self) -> bool:
        return self.lat is not None and self.lon is not None and self.channel != "card_not_present"


@dataclass(frozen=True, slots=True)
class Velocity:
    comparable: bool
    feasible: bool
    reason: str
    distance_km: float | None = None
    seconds: float | None = None
    speed_kmh: float | None = None
    previous_transaction_id: str | None = None

    @property
    def speed_mph(self) -> float | None:
        return None if self.speed_kmh is None else self.speed_kmh / KM_PER_MILE


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; correct across the antimeridian and at the poles."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def assess(
    previous: Sighting | None,
    current: Sighting,
    *,
    max_kmh: float = DEFAULT_MAX_KMH,
    same_place_km: float = DEFAULT_SAME_PLACE_KM,
) -> Velocity:
    if not current.located:
        why = "card not present" if current.channel == "card_not_present" else "no location"
        return Velocity(False, True, f"{why}: the card's position is unknown")
    if previous is None:
        return Velocity(False, True, "first card-present use seen for this card")
    if previous.lat is None or previous.lon is None or previous.channel == "card_not_present":
        return Velocity(False, True, "the previous use has no location")
    assert current.lat is not None
    assert current.lon is not None
    km = haversine_km(previous.lat, previous.lon, current.lat, current.lon)
    seconds = abs((current.timestamp - previous.timestamp).total_seconds())

    def result(feasible: bool, reason: str, kmh: float) -> Velocity:
        return Velocity(True, feasible, reason, km, seconds, kmh, previous.transaction_id)

    if km <= same_place_km:
        return result(True, f"same place ({km:.1f} km apart)", 0.0)
    if seconds == 0:
        return result(False, f"{km:.0f} km apart at the same instant", math.inf)
    kmh = km / (seconds / 3600)
    verdict = "plausible" if kmh <= max_kmh else "impossible travel"
    reason = (
        f"{verdict}: {km:,.0f} km in {_duration(seconds)} = {kmh:,.0f} km/h "
        f"({kmh / KM_PER_MILE:,.0f} mph)"
    )
    return result(kmh <= max_kmh, reason, kmh)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
