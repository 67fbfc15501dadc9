"""How ``vigil api`` serves: full garbage collections wait for a quiet moment."""

from __future__ import annotations

import gc

from tests.conftest import wait_for
from vigil.runtime.server import QuietCollector


def test_full_collections_wait_until_no_run_is_streaming() -> None:
    before = gc.get_threshold()
    busy = [True]
    collector = QuietCollector(lambda: busy[0], every_s=60, check_s=0.02).start()
    try:
        assert gc.get_threshold()[2] == 1_000_000  # the oldest generation: only from here
        gc.collect(1)  # something is now waiting in the oldest generation
        wait_for(lambda: gc.get_count()[2] > 0, 2, "a pending full collection")
        assert not wait_quietly(lambda: collector.full_collections > 0, 0.3)
        busy[0] = False
        wait_for(lambda: collector.full_collections > 0, 5, "a full collection once quiet")
    finally:
        collector.stop()
    assert gc.get_threshold() == before


def test_under_constant_load_a_full_collection_still_comes_when_due() -> None:
    collector = QuietCollector(lambda: True, every_s=0.1, check_s=0.02).start()
    try:
        wait_for(lambda: collector.full_collections >= 2, 5, "collections while busy")
    finally:
        collector.stop()


def wait_quietly(predicate: object, seconds: float) -> bool:
    try:
        wait_for(predicate, seconds, "")
    except AssertionError:
        return False
    return True
