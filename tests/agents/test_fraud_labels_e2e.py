"""fraud.labels through a running fraud agent on real servers: a label is applied once,
however often it comes; a malformed one and one for a payment nobody screened go to the
DLQ with their reasons, and the partition goes on."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest

from agents.fraud.behaviour import BehaviourKeys
from agents.fraud.model_store import publish_model
from agents.fraud.terminals import terminal_days
from ingestion.contracts import FraudDecision, FraudLabel, Transaction
from ingestion.dlq import DeadLetter
from tests.agents.test_fraud_e2e import World, world  # noqa: F401 - the fixture
from tests.agents.test_fraud_model import trained  # noqa: F401 - the fixture
from tests.conftest import wait_for
from tests.ingestion.kafkautil import produce_raw, read_all
from vigil.settings import Stream


def payment(n: int) -> Transaction:
    return Transaction(
        transaction_id=f"tx-l{n}", user_id="cust-john", card_id="card-john-debit",
        timestamp=datetime.now(UTC), amount="12.00", currency="GBP", merchant="GreenBasket",
        merchant_category="grocery", channel="card_present", lat=51.51, lon=-0.13,
        terminal_id="term-greenbasket-1",
    )  # fmt: skip


@pytest.mark.script(fraud_features=True)  # no model reply scripted: none may be called
def test_labels_are_applied_once_and_bad_ones_dead_lettered(
    world: World,  # noqa: F811 - the fixture imported above
    redis_client: tuple[Any, str],
) -> None:
    s = world.settings
    world.producer.publish([payment(1), payment(2)])
    world.topic(Stream.FRAUD_DECISIONS, 2, FraudDecision)
    fraud = FraudLabel(transaction_id="tx-l1", label="fraud", source="customer",
                       known_at=datetime.now(UTC))  # fmt: skip
    unknown = fraud.model_copy(update={"transaction_id": "tx-never-seen"})
    world.producer.publish([fraud, fraud])  # twice: a re-sent label
    topic = s.topic(Stream.FRAUD_LABELS)
    produce_raw(s.kafka_bootstrap or "", topic, [(b"tx-l2", b'{"transaction_id": "tx-l2"')])
    world.producer.publish([unknown])
    letters = [
        DeadLetter.from_record(r)
        for r in read_all(s.kafka_bootstrap or "", s.dlq_topic(topic), 2, timeout=30)
    ]
    reasons = sorted(x.reason for x in letters)
    assert len(letters) == 2, reasons
    assert any("not valid JSON" in r for r in reasons), reasons
    assert any("no screened payment 'tx-never-seen'" in r for r in reasons), reasons
    keys = BehaviourKeys(s.redis_prefix)
    client, _prefix = redis_client

    def record(tx: str) -> list[Any]:
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(client.get(keys.record(tx)))
        return list(unpacker)

    wait_for(lambda: record("tx-l1")[2] == "fraud", 20, "the label applied")
    assert record("tx-l1")[0] == "term-greenbasket-1"
    assert record("tx-l2")[2] == "", "the malformed label changed nothing"
    # once: the terminal's day counts one fraud, however often the label came
    days = terminal_days(client.get(keys.terminal("term-greenbasket-1")))
    assert sum(f for _p, f in days.values()) == 1
    assert sum(p for p, _f in days.values()) == 2


@pytest.mark.script(fraud_features=True, fraud_model_check_s=0.2)
def test_a_running_agent_scores_with_a_model_promoted_while_it_runs(
    world: World,  # noqa: F811 - the fixture imported above
    redis_client: tuple[Any, str],
    trained: Any,  # noqa: F811 - the fixture imported above
) -> None:
    s = world.settings
    client, _prefix = redis_client
    world.producer.publish([payment(1)])
    [before] = world.topic(Stream.FRAUD_DECISIONS, 1, FraudDecision)
    assert "model_version" not in before.signals  # none promoted: the rules alone
    model = trained[2]
    publish_model(client, s.redis_prefix, model, promote=True)
    time.sleep(0.5)
    world.producer.publish([payment(2)])
    decided = world.topic(Stream.FRAUD_DECISIONS, 2, FraudDecision)
    [after] = [d for d in decided if d.transaction_id == "tx-l2"]
    assert after.signals["model_version"] == model.version
    assert isinstance(after.signals["model_risk"], float)
    assert after.signals["model_band"] in ("low", "medium", "high")
