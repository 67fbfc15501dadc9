"""The agents' producer lingers to fill its requests; a batch's records are acknowledged
before its handler returns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import ValidationError

import agents.fraud.pipelined as pipelined
from ingestion.producer import EventProducer
from ingestion.runner import Received
from ingestion.simulator.fraud import FraudSimulation
from tests.conftest import base_settings
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from vigil.settings import Settings, Stream
from vigil.wiring.workers import agent as build_agent


def test_a_screened_batch_is_on_the_broker_when_its_handler_returns(
    settings: Settings, redis_client: tuple[Any, str]
) -> None:
    """Its parts' decisions are sent as each part is judged and may wait in the producer
    for its linger (a second here): the handler has every one acknowledged before it
    returns, so the offsets it lets the runner commit never run ahead of its decisions."""
    client, prefix = redis_client
    s = settings.model_copy(update={
        "redis_prefix": prefix.rstrip(":"), "checkpoint_prefix": prefix + "cp",
        "fraud_features": True, "fraud_model": False, "agents_producer_linger_ms": 1000,
    })  # fmt: skip
    history = FraudSimulation(seed=4, shoppers=80, days=5).run()
    payments = [p.tx for p in history.payments][: 3 * pipelined.PART]
    assert len(pipelined.parts(len(payments))) >= 3  # several parts
    with EventProducer.for_agents(s) as producer:
        assert producer._producer.config["linger_ms"] == 1000
        events = build_agent("fraud", s, producer, "events", client=client, embedder=EMBEDDER)
        events.worker.ctx.tools.profiles.apply(history.profiles)
        sent: list[Any] = []
        send = producer.send

        def kept(event: Any, **kw: Any) -> Any:
            sent.append((event, send(event, **kw)))
            return sent[-1][1]

        producer.send = kept  # type: ignore[method-assign]
        batch = [Received(t, "transactions", 0, i, None, 0) for i, t in enumerate(payments)]
        events.worker.handle(batch)
        # every record acknowledged by the broker the moment the handler returns
        assert all(f.is_done and f.succeeded() for _e, f in sent)
        decided = [e.transaction_id for e, _f in sent if e.STREAM is Stream.FRAUD_DECISIONS]
        assert decided == [t.transaction_id for t in payments]


def test_the_agents_producer_lingers_as_set() -> None:
    s = base_settings(kafka_bootstrap="127.0.0.1:1", agents_producer_linger_ms=7)
    assert s.agents_producer_linger_ms == 7
    assert base_settings().agents_producer_linger_ms == 25


@given(st.integers(min_value=-(2**63), max_value=2**63) | st.sampled_from([-1, 1001, 10**9]))
@hypothesis_settings(max_examples=80, deadline=None)
def test_the_agents_linger_takes_0_to_1000_ms(value: int) -> None:
    if 0 <= value <= 1000:
        assert base_settings(agents_producer_linger_ms=value).agents_producer_linger_ms == value
    else:
        with pytest.raises(ValidationError, match="agents_producer_linger_ms"):
            base_settings(agents_producer_linger_ms=value)
