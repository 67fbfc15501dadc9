"""A batch's script sent in parts at once, on a real Redis: the same verdicts as one call;
a script Redis lost is loaded again; an error mid-round leaves no connection out of step."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ResponseError

import agents.fraud.screening as screening
from agents.fraud.labels import LabelStore
from agents.fraud.pipelined import replies
from agents.fraud.screening import Screener
from ingestion.profiles import RedisProfileStore
from ingestion.simulator.fraud import FraudSimulation
from tests.conftest import base_settings


def _screened(client: Any, prefix: str, history: Any, batch: int) -> list[Any]:
    s = base_settings(redis_prefix=prefix, fraud_features=True, fraud_model=False)
    RedisProfileStore(client, prefix=prefix).apply(history.profiles)
    screener, labels = Screener(client, s), LabelStore(client, prefix)
    out: list[Any] = []
    payments = [p.tx for p in history.payments]
    for i in range(0, len(payments), batch):
        labels.apply([x for x in history.labels if x.known_at < payments[i].timestamp])
        out += screener.screen(payments[i : i + batch])
    return out


def test_parts_decide_as_one_call_would(
    redis_client: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Consecutive parts run in order in Redis: every feature (a terminal's counts across
    customers, a card's review across parts) is what a single call computes."""
    client, prefix = redis_client
    history = FraudSimulation(seed=4, shoppers=80, days=5).run()
    assert len(history.payments) > 4 * screening.PART
    parted = _screened(client, f"{prefix}parts", history, batch=len(history.payments))
    monkeypatch.setattr(screening, "PARTS", 1)
    whole = _screened(client, f"{prefix}whole", history, batch=len(history.payments))
    assert [x.tx.transaction_id for x in parted] == [p.tx.transaction_id for p in history.payments]
    assert [(x.outcome, x.reasons, x.signals) for x in parted] == [
        (x.outcome, x.reasons, x.signals) for x in whole
    ]
    assert any(x.outcome == "hold" for x in parted)  # reviews across parts, as in one call


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
