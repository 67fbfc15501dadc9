"""The case map's world outline: read from the installed package, thinned, and served as
JSON the console draws; a ring is kept as [lon, lat] and thinned, never invented."""

from __future__ import annotations

import json
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from api.world import STEP_DEG, outline, thin
from tests.api.conftest import Api


def test_the_outline_holds_the_coasts_around_london_and_paris(api: Api) -> None:
    with api.client() as c:
        r = c.get("/console/world.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    world = r.json()
    assert "error" not in world, world
    assert len(world["rings"]) > 300

    def near(lon: float, lat: float) -> bool:
        return any(abs(p[0] - lon) < 1 and abs(p[1] - lat) < 1 for ring in world["rings"]
                   for p in ring)  # fmt: skip

    assert near(1.4, 51.1)  # the Channel's coasts, Dover and Calais
    assert not near(-30.0, 45.0)  # the middle of the Atlantic
    assert len(r.content) < 1_000_000


points = st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), max_size=200)


@settings(max_examples=200, deadline=None)
@given(ring=points.map(lambda ps: [list(p) for p in ps]))
def test_thinning_keeps_points_of_the_ring_a_step_apart(ring: list[list[float]]) -> None:
    out = thin(ring)
    assert json.dumps(out)
    if not out:
        return
    assert len(out) >= 3
    source = {(round(lon, 2), round(lat, 2)) for lat, lon in ring}
    assert all((p[0], p[1]) in source for p in out)
    for a, b in pairwise(out):
        assert abs(a[0] - b[0]) >= STEP_DEG - 0.011 or abs(a[1] - b[1]) >= STEP_DEG - 0.011


def test_the_outline_is_read_once() -> None:
    assert outline() is outline()
