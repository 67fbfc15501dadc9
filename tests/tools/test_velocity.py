"""Impossible travel, the pure part: the founding story's number and the edge cases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tools.velocity import EARTH_RADIUS_KM, Sighting, assess, haversine_km

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
LONDON_ATM = Sighting("tx-1", T0, 51.5308, -0.1238, "atm")
PARIS_CAFE = Sighting("tx-2", T0 + timedelta(seconds=40), 48.8566, 2.3522, "card_present")


def test_the_founding_story_is_over_19000_mph() -> None:
    v = assess(LONDON_ATM, PARIS_CAFE)
    assert v.comparable
    assert not v.feasible
    assert v.speed_mph is not None
    assert v.speed_mph > 19_000
    assert v.distance_km is not None
    assert 340 < v.distance_km < 350
    assert v.seconds == 40
    assert v.previous_transaction_id == "tx-1"
    assert "impossible travel" in v.reason
    assert "mph" in v.reason


def test_the_same_trip_by_train_is_plausible() -> None:
    later = Sighting("tx-3", T0 + timedelta(hours=3), 48.8566, 2.3522, "card_present")
    v = assess(LONDON_ATM, later)
    assert v.feasible
    assert v.speed_kmh is not None
    assert v.speed_kmh < 200


def test_identical_timestamps() -> None:
    far = Sighting("b", T0, 48.8566, 2.3522, "card_present")
    v = assess(LONDON_ATM, far)
    assert not v.feasible
    assert v.speed_kmh == math.inf
    near = Sighting("c", T0, 51.5310, -0.1240, "card_present")
    assert assess(LONDON_ATM, near).feasible


def test_out_of_order_events_give_the_same_speed() -> None:
    forward = assess(LONDON_ATM, PARIS_CAFE)
    backward = assess(PARIS_CAFE, LONDON_ATM)
    assert backward.speed_kmh == forward.speed_kmh
    assert not backward.feasible


def test_missing_locations_and_card_not_present_are_not_comparable() -> None:
    online = Sighting("o", T0 + timedelta(seconds=5), None, None, "card_not_present")
    v = assess(LONDON_ATM, online)
    assert (v.comparable, v.feasible) == (False, True)
    assert "card not present" in v.reason
    located_online = Sighting("o2", T0, 48.85, 2.35, "card_not_present")
    assert not assess(LONDON_ATM, located_online).comparable
    nowhere = Sighting("n", T0, None, None, "card_present")
    assert "no location" in assess(LONDON_ATM, nowhere).reason
    assert not assess(None, PARIS_CAFE).comparable


def test_the_antimeridian_is_a_short_hop_not_a_world_tour() -> None:
    assert haversine_km(0.0, 179.95, 0.0, -179.95) < 12
    fiji = Sighting("f", T0, -17.7134, 178.0650, "card_present")
    samoa = Sighting("s", T0 + timedelta(hours=3), -13.8333, -171.7500, "card_present")
    v = assess(fiji, samoa)
    assert v.distance_km is not None
    assert 1000 < v.distance_km < 1300  # not 39,000 km the long way round
    assert v.feasible


lat = st.floats(min_value=-90, max_value=90, allow_nan=False)
lon = st.floats(min_value=-180, max_value=180, allow_nan=False)


@given(lat, lon, lat, lon)
def test_distance_is_symmetric_bounded_and_non_negative(
    a: float, b: float, c: float, d: float
) -> None:
    x = haversine_km(a, b, c, d)
    assert x == haversine_km(c, d, a, b)
    assert 0 <= x <= math.pi * EARTH_RADIUS_KM + 1e-6


@given(lat, lon, lat, lon, lat, lon)
def test_distance_obeys_the_triangle_inequality(
    a: float, b: float, c: float, d: float, e: float, f: float
) -> None:
    assert haversine_km(a, b, e, f) <= haversine_km(a, b, c, d) + haversine_km(c, d, e, f) + 1e-6


@given(lat, lon, lat, lon, st.integers(min_value=0, max_value=10**7))
def test_assess_does_not_depend_on_arrival_order(
    a: float, b: float, c: float, d: float, gap: int
) -> None:
    one = Sighting("1", T0, a, b, "card_present")
    two = Sighting("2", T0 + timedelta(seconds=gap), c, d, "card_present")
    x, y = assess(one, two), assess(two, one)
    assert (x.feasible, x.speed_kmh) == (y.feasible, y.speed_kmh)
