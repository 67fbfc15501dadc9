"""Each card's last located use in a real Redis: atomic, re-delivery safe, time-ordered."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from tools.card_locations import CardLocationStore
from tools.velocity import Sighting

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def at(tx: str, seconds: int, lat: float = 51.5, lon: float = -0.12) -> Sighting:
    return Sighting(tx, T0 + timedelta(seconds=seconds), lat, lon, "card_present")


def store(client: tuple[redis.Redis, str]) -> CardLocationStore:
    r, prefix = client
    return CardLocationStore(r, prefix=prefix + "vel")


def test_each_use_is_compared_with_the_one_before(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    assert s.observe("card-1", at("a", 0)) is None
    prev = s.observe("card-1", at("b", 40, 48.85, 2.35))
    assert prev is not None
    assert prev.transaction_id == "a"
    assert prev.timestamp == T0
    last = s.last("card-1")
    assert last is not None
    assert last.transaction_id == "b"


def test_a_redelivered_event_gets_its_first_answer(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.observe("card-1", at("a", 0))
    first = s.observe("card-1", at("b", 40))
    s.observe("card-1", at("c", 80))
    again = s.observe("card-1", at("b", 40))
    assert first == again
    last = s.last("card-1")
    assert last is not None
    assert last.transaction_id == "c"


def test_a_late_older_event_never_moves_the_card_back(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    s.observe("card-1", at("new", 100))
    prev = s.observe("card-1", at("old", 10))
    assert prev is not None
    assert prev.transaction_id == "new"  # compared with the latest known use
    last = s.last("card-1")
    assert last is not None
    assert last.transaction_id == "new"


def test_concurrent_workers_keep_the_card_consistent(redis_client: tuple[Any, str]) -> None:
    s = store(redis_client)
    uses = [at(f"t{i:03d}", i * 10) for i in range(200)]
    random.Random(5).shuffle(uses)
    answers: dict[str, Any] = {}
    lock = threading.Lock()

    def work(part: list[Sighting]) -> None:
        mine = CardLocationStore(
            redis.Redis(connection_pool=s.client.connection_pool), prefix=s.prefix
        )
        for u in part:
            prev = mine.observe("card-x", u)
            with lock:
                answers[u.transaction_id] = prev

    threads = [threading.Thread(target=work, args=(uses[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    last = s.last("card-x")
    assert last is not None
    assert last.transaction_id == "t199"  # the latest in time, whatever the arrival order
    assert len(answers) == 200
    # re-delivering everything changes nothing
    for u in uses:
        assert s.observe("card-x", u) == answers[u.transaction_id]
    # no answer ever names a use that did not exist
    names = {u.transaction_id for u in uses}
    assert {a.transaction_id for a in answers.values() if a} <= names


def test_a_service_keeps_its_card_locations_under_its_own_prefix(
    redis_client: tuple[Any, str],
) -> None:
    r, prefix = redis_client
    s = CardLocationStore.for_service(r, prefix.rstrip(":"))
    s.observe("card-1", at("a", 0))
    assert r.exists(f"{prefix}vel:card:card-1")  # where earlier releases kept it


def test_a_forgotten_card_starts_afresh_and_keeps_its_answers(
    redis_client: tuple[Any, str],
) -> None:
    s = store(redis_client)
    s.observe("card-1", at("a", 0))
    paris = s.observe("card-1", at("b", 40, 48.85, 2.35))
    assert s.forget("card-1")
    assert not s.forget("card-1")  # nothing left to forget
    assert s.last("card-1") is None
    assert s.observe("card-1", at("c", 80)) is None  # compared with nothing
    assert s.observe("card-1", at("b", 40, 48.85, 2.35)) == paris  # a re-delivery: as before
