"""A batch's script sent in parts at once, on a real Redis: the same verdicts as one call;
a script Redis lost is loaded again; an error mid-round leaves no connection out of step."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from redis.exceptions import ResponseError

import agents.fraud.pipelined as pipelined
from agents.fraud.labels import LabelStore
from agents.fraud.pipelined import answered, replies
from agents.fraud.screening import Screener
from ingestion.profiles import RedisProfileStore
from ingestion.simulator.fraud import FraudSimulation
from tests.conftest import base_settings


def _screened(client: Any, prefix: str, history: Any, batch: int,
              features: bool = True) -> list[Any]:  # fmt: skip
    s = base_settings(redis_prefix=prefix, fraud_features=features, fraud_model=False)
    RedisProfileStore(client, prefix=prefix).apply(history.profiles)
    screener, labels = Screener(client, s), LabelStore(client, prefix)
    out: list[Any] = []
    payments = [p.tx for p in history.payments]
    for i in range(0, len(payments), batch):
        labels.apply([x for x in history.labels if x.known_at < payments[i].timestamp])
        out += screener.screen(payments[i : i + batch])
    return out


@pytest.mark.parametrize("features", [True, False], ids=["features", "rules alone"])
def test_parts_decide_as_one_call_would(
    redis_client: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, features: bool
) -> None:
    """Consecutive parts run in order in Redis: every feature (a terminal's counts across
    customers, a card's review across parts) and every rule (a card's previous location,
    its card-testing window) is what a single call computes."""
    import agents.fraud.screening as screening

    client, prefix = redis_client
    history = FraudSimulation(seed=4, shoppers=80, days=5).run()
    n = len(history.payments)
    assert n > 4 * pipelined.PART
    assert len(pipelined.parts(n)) > 4
    parted = _screened(client, f"{prefix}parts", history, n, features)
    monkeypatch.setattr(screening, "parts", lambda n: [(0, n)])
    whole = _screened(client, f"{prefix}whole", history, n, features)
    assert [x.tx.transaction_id for x in parted] == [p.tx.transaction_id for p in history.payments]
    assert [(x.outcome, x.reasons, x.signals) for x in parted] == [
        (x.outcome, x.reasons, x.signals) for x in whole
    ]
    if features:  # reviews across parts, as in one call
        assert any(x.outcome == "hold" for x in parted)
    else:  # the velocity rule compared payments with the card's previous one, in
        # another part too
        cuts = pipelined.parts(n)
        part_of = {x.tx.transaction_id: next(k for k, (a, b) in enumerate(cuts) if a <= i < b)
                   for i, x in enumerate(parted)}  # fmt: skip
        across = [x for x in parted if (before := x.signals.get("previous_transaction_id"))
                  and part_of[before] < part_of[x.tx.transaction_id]]  # fmt: skip
        assert across


def test_parts_judged_together_decide_as_parts_judged_one_by_one(
    redis_client: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replies that arrived while the caller judged the part before them are judged
    together (the model and the reviews over all of them at once): the very verdicts."""
    import agents.fraud.screening as screening

    client, prefix = redis_client
    history = FraudSimulation(seed=4, shoppers=80, days=5).run()
    got: dict[str, list[Any]] = {}
    sizes: dict[str, list[int]] = {}
    for how in ("one by one", "all together"):

        def grouped(*args: Any, _how: str = how) -> Any:
            groups = list(answered(*args))
            merged = [[r for g in groups for r in g]] if _how == "all together" else [
                [r] for g in groups for r in g
            ]  # fmt: skip
            sizes[_how] = [len(g) for g in merged]
            yield from merged

        monkeypatch.setattr(screening, "answered", grouped)
        got[how] = _screened(client, f"{prefix}{how[:3]}", history, batch=len(history.payments))
    assert sizes["all together"] == [sum(sizes["one by one"])]
    assert len(sizes["one by one"]) > 2
    assert [(x.outcome, x.reasons, x.signals) for x in got["one by one"]] == [
        (x.outcome, x.reasons, x.signals) for x in got["all together"]
    ]
    assert any(x.outcome == "hold" for x in got["all together"])


def test_replies_already_here_come_as_one_group(redis_client: tuple[Any, str]) -> None:
    client, prefix = redis_client
    key = f"{prefix}together"
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    client.script_load(script.script)

    def calls() -> Any:
        for _ in range(3):
            yield [key], []
        # every call answered before the first reply is read (a second connection sees
        # the third's count; Redis wrote the replies before it served that read)
        deadline = time.monotonic() + 5
        while int(client.get(key) or 0) < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(0.05)

    assert list(answered(client, script, calls())) == [[1, 2, 3]]


def test_an_error_after_replies_already_here_comes_after_them(
    redis_client: tuple[Any, str],
) -> None:
    client, _prefix = redis_client
    script = client.register_script(
        "if ARGV[1] == 'boom' then return redis.error_reply('boom') end return ARGV[1]"
    )
    client.script_load(script.script)

    def calls() -> Any:
        yield from [([], ["a"]), ([], ["b"]), ([], ["boom"]), ([], ["c"])]
        time.sleep(0.1)  # all four answered before the first is read

    round_ = answered(client, script, calls())
    assert next(round_) == [b"a", b"b"]
    with pytest.raises(ResponseError, match="boom"):
        next(round_)
    for i in range(5):  # "c" was left unread on a connection that was dropped
        assert client.echo(f"ping-{i}") == f"ping-{i}".encode()


def test_a_script_redis_lost_is_loaded_again(redis_client: tuple[Any, str]) -> None:
    client, _prefix = redis_client
    script = client.register_script("return ARGV[1] .. '!'")
    script.sha = "0" * 40  # what a flushed script cache looks like to this client
    calls: list[tuple[list[str], list[str]]] = [([], ["a"]), ([], ["b"]), ([], ["c"])]
    assert list(replies(client, script, calls)) == [b"a!", b"b!", b"c!"]
    assert script.sha != "0" * 40
    assert list(replies(client, script, calls)) == [b"a!", b"b!", b"c!"]


def test_an_error_mid_round_is_raised_and_the_connections_stay_in_step(
    redis_client: tuple[Any, str],
) -> None:
    client, _prefix = redis_client
    script = client.register_script(
        "if ARGV[1] == 'boom' then return redis.error_reply('boom') end return ARGV[1]"
    )
    round_ = replies(client, script, [([], ["a"]), ([], ["boom"]), ([], ["c"])])
    assert next(round_) == b"a"
    with pytest.raises(ResponseError, match="boom"):
        next(round_)
    # the connection with "c"'s reply unread was dropped: every pooled one answers in step
    for i in range(5):
        assert client.echo(f"ping-{i}") == f"ping-{i}".encode()
    # a caller that stops reading early leaves none behind either
    partial = replies(client, script, [([], ["x"]), ([], ["y"])])
    assert next(partial) == b"x"
    partial.close()
    assert client.echo("after") == b"after"


def test_a_call_that_cannot_be_encoded_fails_before_any_reply_is_read(
    redis_client: tuple[Any, str],
) -> None:
    """The calls are packed in C at once: a lone surrogate (which no contract lets through)
    fails as the client's own packer fails, and leaves no connection out of step."""
    client, _prefix = redis_client
    script = client.register_script("return ARGV[1]")
    client.script_load(script.script)
    with pytest.raises(UnicodeEncodeError):
        list(replies(client, script, [([], ["a"]), ([], ["x\ud800"])]))
    for i in range(5):
        assert client.echo(f"ping-{i}") == f"ping-{i}".encode()
    assert list(replies(client, script, [([], ["é"]), ([], [7])])) == ["é".encode(), b"7"]


def test_the_parts_cover_the_batch_in_order_small_ones_first_then_equal_parts() -> None:
    for n in [*range(1, 2000, 7), 5000, 20_000, 100_000]:
        cuts = pipelined.parts(n)
        assert cuts[0][0] == 0
        assert cuts[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
        sizes = [end - start for start, end in cuts]
        assert min(sizes) >= 1
        # no part so large its keys pass Lua's unpack (five a payment, one MGET)
        assert max(sizes) <= pipelined.LARGEST
        if n < 2 * pipelined.PART:  # a small batch: one call
            assert len(cuts) == 1
            continue
        # a ramp of small parts, each GROWTH times the one before, then equal parts
        ramp = list(itertools.takewhile(lambda x: x < pipelined.PART, sizes))
        assert ramp == [int(pipelined.FIRST * pipelined.GROWTH**i) for i in range(len(ramp))]
        rest = sizes[len(ramp) :]
        assert max(rest) - min(rest) <= 1
        assert sum(rest) >= 2 * pipelined.PART  # the ramp leaves the equal parts their size
        if n <= pipelined.PARTS * pipelined.LARGEST:
            assert len(cuts) <= pipelined.PARTS
            assert min(rest) >= pipelined.PART
        if n >= 500:  # a full batch starts with its small parts
            assert sizes[0] == pipelined.FIRST


def test_each_call_is_sent_as_it_is_prepared(redis_client: tuple[Any, str]) -> None:
    """The calls may come from a generator: each is written before the next is made, so
    Redis is computing the first while the caller prepares the rest."""
    client, prefix = redis_client
    key = f"{prefix}sent"
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    client.script_load(script.script)  # known to Redis (another test may have flushed it)
    seen: list[int] = []

    def calls() -> Any:
        for _ in range(3):
            yield [key], []
            # by the time the next call is made, Redis has this one (a second connection
            # reads what the first one's calls did)
            deadline = time.monotonic() + 5
            while int(client.get(key) or 0) < len(seen) + 1 and time.monotonic() < deadline:
                time.sleep(0.001)
            seen.append(int(client.get(key) or 0))

    assert list(replies(client, script, calls())) == [1, 2, 3]
    assert seen == [1, 2, 3]


def test_a_review_started_in_a_part_is_written_once_the_parts_are_answered(
    redis_client: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card escalated in the first part is held in the later parts (in process) and in
    the next batch (its flag, written after the last part: a write between the parts
    would wait behind the parts queued in Redis)."""
    from tests.agents.test_screening import LONDON, PARIS, tx

    client, prefix = redis_client
    s = base_settings(redis_prefix=prefix.rstrip(":"), fraud_features=True, fraud_model=False)
    screener = Screener(client, s)
    assert screener._behaviour is not None
    flag = screener._behaviour.flag("card-1")
    others = [tx(100 + i, card=f"card-o{i}", user=f"cust-o{i}", seconds=i)
              for i in range(3 * pipelined.PART)]  # fmt: skip
    batch = [tx(1, lat=LONDON[0], lon=LONDON[1]), tx(2, seconds=40, lat=PARIS[0], lon=PARIS[1]),
             *others, tx(3, seconds=600, lat=PARIS[0], lon=PARIS[1])]  # fmt: skip
    assert len(pipelined.parts(len(batch))) >= 3
    writes: list[tuple[int, set[str]]] = []
    import agents.fraud.screening as screening
    from agents.fraud import verdicts

    def write_flags(client: Any, keys: Any, started: Any, cards: set[str], window: int) -> None:
        writes.append((done, set(cards)))
        real(client, keys, started, cards, window)

    real, done = verdicts.write_flags, 0
    monkeypatch.setattr(screening, "write_flags", write_flags)
    out: list[Any] = []
    for part in screener.parts(batch):
        out += part
        done += 1
        assert client.get(flag) is None  # not yet: the parts are not all answered
    assert writes == [(done, {"card-1"})]  # once, after the last part
    assert [x.outcome for x in out[1:2] + out[-1:]] == ["escalate", "hold"]
    assert client.get(flag) is not None
    (later,) = screener.screen([tx(4, seconds=900, lat=PARIS[0], lon=PARIS[1])])
    assert later.outcome == "hold"
    assert later.signals["card_flagged_s_ago"] == 860.0
