"""Where a payment was against the customer's home, from the profile's fields."""

from __future__ import annotations

from typing import Any

from ingestion.contracts import Transaction
from tools.velocity import haversine_km


def home_of(profile: dict[str, Any]) -> tuple[float, float] | None:
    """The customer's home (None: a profile without one: schema 1 changes carry none)."""
    lat, lon = number(profile.get("home_lat")), number(profile.get("home_lon"))
    return None if lat is None or lon is None else (lat, lon)


def from_home(t: Transaction, home: tuple[float, float] | None) -> float | None:
    """How far from the customer's home a located payment was (None: a payment online,
    or no home known)."""
    if home is None or t.lat is None or t.lon is None or t.channel == "card_not_present":
        return None
    return round(haversine_km(home[0], home[1], t.lat, t.lon), 1)


def delivery_from_home(t: Transaction, home: tuple[float, float] | None) -> float | None:
    """How far from the customer's home an online order is delivered (None: no delivery
    location, as for digital goods, or no home known)."""
    if home is None or t.delivery_lat is None or t.delivery_lon is None:
        return None
    return round(haversine_km(home[0], home[1], t.delivery_lat, t.delivery_lon), 1)


def number(value: Any) -> float | None:
    """A profile amount (a decimal string, or a number) as a float; None if it is not one."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
