"""The runner when something outside the handler fails (the broker at the commit or the
DLQ), on a real Tansu broker: the batch is read again, nothing is skipped, and a consumer
that cannot go on dies loudly, never silently. And what a dead letter may keep: no PAN."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from kafka.errors import GroupAuthorizationFailedError, KafkaConnectionError

from ingestion.contracts import Transaction, encode
from ingestion.contracts.inputs import mask_pans
from ingestion.dlq import DeadLetter
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner, Received
from ingestion.threads import start_guarded
from tests.ingestion.kafkautil import committed, produce_raw, read_all, transactions
from tests.ingestion.test_runner import runner_for
from vigil.settings import Settings, Stream


def quick(settings: Settings, **kw: Any) -> Settings:
    return settings.model_copy(
        update={"runner_retry_backoff_s": 0.01, "runner_retry_backoff_max_s": 0.05, **kw}
    )


def failing_commits(
    runner: ConsumerRunner[Any], error: Exception, times: int, *, answered: bool = False
) -> list[int]:
    """Make the runner's next ``times`` commits fail with ``error``: raised by the call,
    or (``answered``) given as kafka-python gives an asynchronous commit's answer, to the
    commit's callback."""
    real = runner._member.consumer.commit_async
    calls: list[int] = []

    def commit_async(*, offsets: Any, callback: Any) -> Any:
        calls.append(1)
        if len(calls) > times:
            return real(offsets=offsets, callback=callback)
        if not answered:
            raise error
        callback(offsets, error)
        return None

    runner._member.consumer.commit_async = commit_async
    return calls


def run_until_dead(runner: ConsumerRunner[Any]) -> dict[str, str]:
    """Run the consumer on a guarded thread until it dies; where the process reports it."""
    dead: dict[str, str] = {}
    try:
        thread = start_guarded(runner.run, "consumer-tx", dead)
        thread.join(60)
        assert not thread.is_alive()
    finally:
        runner.close()
    return dead


def test_a_commit_the_broker_refuses_goes_again_with_the_next_and_loses_nothing(
    settings: Settings,
) -> None:
    """A broker error at the commit escaped the loop and ended the consumer thread for
    good. Now commits go out without waiting; one the broker refuses for a passing reason
    goes again with the next, and ``run`` returns once the broker holds the last."""
    events = transactions(6)
    with EventProducer(settings) as p:
        p.publish(events)
    seen: list[str] = []

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        seen.extend(r.event.transaction_id for r in batch)

    runner = runner_for(quick(settings), handler, name="commit-fails", batch_size=2)
    calls = failing_commits(runner, KafkaConnectionError("socket disconnected"), 2, answered=True)
    try:
        m = runner.run(count=6, timeout=60)
    finally:
        runner.close()
    assert len(calls) == 3  # one commit a batch, the refused offsets carried along
    assert m.commit_failures == 2
    assert m.crashes == 0
    assert sorted(seen) == sorted(e.transaction_id for e in events)  # each once
    assert sum(committed(settings.kafka_bootstrap or "", runner.group).values()) == 6


def test_a_commit_refused_for_good_reads_the_batch_again_then_dies_and_says_why(
    settings: Settings,
) -> None:
    """A refusal that is not passing (the group is not authorized) is raised at the next
    commit: the batch in hand is read again from the last commit, and after
    ``runner_max_crashes`` batches in a row the consumer dies saying why."""
    one_key = [t.model_copy(update={"user_id": "u-1"}) for t in transactions(4)]
    with EventProducer(settings) as p:
        p.publish(one_key)  # one partition: reading it again repeats its first records
    seen: list[str] = []

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        seen.extend(r.event.transaction_id for r in batch)

    s = quick(settings, runner_max_crashes=2)
    runner = runner_for(s, handler, name="refused", batch_size=1)
    failing_commits(runner, GroupAuthorizationFailedError("not authorized"), 1000, answered=True)
    dead = run_until_dead(runner)
    assert dead["consumer-tx"].startswith("GroupAuthorizationFailedError")
    assert runner.metrics.crashes == 2
    assert seen == [one_key[0].transaction_id, one_key[1].transaction_id] * 2  # read again
    assert committed(settings.kafka_bootstrap or "", runner.group) == {}


def test_a_consumer_that_cannot_go_on_dies_and_says_why(settings: Settings) -> None:
    """Not a dependency: after ``runner_max_crashes`` batches in a row the runner raises,
    and the guarded thread leaves its name and the reason where the process reports it."""
    with EventProducer(settings) as p:
        p.publish(transactions(2))
    runner = runner_for(quick(settings, runner_max_crashes=3), lambda b: None, name="dies")
    calls = failing_commits(runner, ValueError("offsets cannot be encoded"), 1000)
    dead = run_until_dead(runner)
    assert dead == {"consumer-tx": "ValueError: offsets cannot be encoded"}
    assert runner.metrics.crashes == 3
    assert len(calls) == 3
    assert committed(settings.kafka_bootstrap or "", runner.group) == {}


def test_a_dead_letter_never_keeps_a_card_number(settings: Settings) -> None:
    """A PAN refused by the contract was kept verbatim in transactions.dlq."""
    topic = settings.topic(Stream.TRANSACTIONS)
    good = json.loads(encode(transactions(1)[0]))
    as_string = {**good, "card_id": "4111 1111 1111 1111", "merchant": "shop 5500000000000004"}
    as_number = {**good, "card_id": 4012888888881881}
    not_json = b'{"card_id": 4111111111111111, broken'
    deep = b"[" * 3000 + b"4111111111111111" + b"]" * 3000  # too deep for json.loads
    items = [(b"u", json.dumps(as_string).encode()), (b"u", json.dumps(as_number).encode()),
             (b"u", not_json), (b"u", deep), (b"u", b"4111111111111111")]  # fmt: skip
    produce_raw(settings.kafka_bootstrap or "", topic, items)
    runner = runner_for(settings, lambda batch: None, name="pan")
    try:
        m = runner.run(count=5, timeout=60)
    finally:
        runner.close()
    assert (m.dead_lettered, m.crashes) == (5, 0)
    letters = read_all(settings.kafka_bootstrap or "", settings.dlq_topic(topic), 5)
    values = [DeadLetter.from_record(r).value or b"" for r in letters]
    assert len(values) == 5
    for value in values:
        for pan in (b"4111111111111111", b"4111 1111 1111 1111", b"5500000000000004",
                    b"4012888888881881"):  # fmt: skip
            assert pan not in value, value
    assert json.loads(values[0])["card_id"] == "411111******1111"
    assert json.loads(values[0])["merchant"] == "shop 550000******0004"
    assert json.loads(values[1])["card_id"] == "401288******1881"
    assert b"411111******1111" in values[2]
    assert b"411111******1111" in values[3]
    assert values[4] == b'"411111******1111"'
    # the rest of the record is kept for a replay
    assert json.loads(values[0])["transaction_id"] == good["transaction_id"]


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@hsettings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=st.dictionaries(st.text(max_size=8), st.one_of(
        st.text(st.characters(exclude_categories=["Nd"])), st.integers(-10**12, 10**12),
        st.floats(allow_nan=False, allow_infinity=False), st.none()), max_size=6),
    pan=st.from_regex(r"\A[1-9][0-9]{12,18}\Z"),
    sep=st.sampled_from(["", " ", "-"]),
)  # fmt: skip
def test_masking_keeps_json_json_and_leaves_no_luhn_valid_card_number(
    body: dict[str, Any], pan: str, sep: str
) -> None:
    grouped = sep.join(pan[i : i + 4] for i in range(0, len(pan), 4))
    raw = json.dumps({**body, "card_id": grouped, "n": int(pan)}).encode()
    masked = mask_pans(raw)
    parsed = json.loads(masked)  # still JSON
    if _luhn_ok(pan):
        assert pan.encode() not in masked
        assert parsed["card_id"] == pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
        assert parsed["n"] == parsed["card_id"]
    else:
        assert masked == raw  # nothing that is not a card number is touched


def test_a_guarded_thread_reports_a_death_not_a_clean_return() -> None:
    """start_guarded is what every consumer thread runs under: a clean return is not a
    death, an exception is, with its type and message."""
    dead: dict[str, str] = {}
    done = threading.Event()
    start_guarded(done.set, "returns", dead).join(5)
    start_guarded(lambda: 1 / 0, "raises", dead).join(5)
    assert done.is_set()
    assert dead == {"raises": "ZeroDivisionError: division by zero"}


def test_a_flood_of_poison_is_isolated_within_the_poll_interval(settings: Settings) -> None:
    """Each record the handler fails on alone took its full tries with backoff (about 1.5
    s at the defaults); twenty of them in a batch held it past max_poll_interval, the group
    dropped the member, the commit failed and the batch came back: a stall. Past half the
    interval, the remaining records get one try each."""
    events = transactions(40)
    with EventProducer(settings) as p:
        p.publish(events)
    poison = {e.transaction_id for e in events[::2]}

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        if any(r.event.transaction_id in poison for r in batch):
            raise ValueError("poison")

    s = settings.model_copy(update={
        "runner_retry_backoff_s": 0.3, "runner_handler_attempts": 3,
        "kafka_max_poll_interval_ms": 8000,
    })  # fmt: skip
    runner = runner_for(s, handler, name="flood", batch_size=100)
    try:
        m = runner.run(count=40, timeout=120)
    finally:
        runner.close()
    assert m.commit_failures == 0
    assert (m.processed, m.dead_lettered, m.handler_failures) == (20, 20, 20)
    assert sum(committed(settings.kafka_bootstrap or "", runner.group).values()) == 40


def test_a_handler_longer_than_the_poll_interval_keeps_its_partitions(settings: Settings) -> None:
    """A handler that outlived ``max_poll_interval_ms`` (a slow model, a long wait for
    Redis) got its member dropped by kafka-python: its commit was refused, the batch was
    handed to another member and handled twice. The polling thread now keeps the
    membership while the handler works, its partitions paused."""
    events = transactions(4)
    with EventProducer(settings) as p:
        p.publish(events)
    seen: list[str] = []

    def slow(batch: Sequence[Received[Transaction]]) -> None:
        if not seen:
            time.sleep(5)  # over twice the poll interval below
        seen.extend(r.event.transaction_id for r in batch)

    s = quick(settings, kafka_max_poll_interval_ms=2000)
    runner = runner_for(s, slow, name="slow-handler")
    try:
        m = runner.run(count=4, timeout=60)
    finally:
        runner.close()
    assert m.commit_failures == 0
    assert sorted(seen) == sorted(e.transaction_id for e in events)  # each handled once
    assert sum(committed(settings.kafka_bootstrap or "", runner.group).values()) == 4
