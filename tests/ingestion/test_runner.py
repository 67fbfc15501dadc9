"""The consumer runner on a real Tansu broker: DLQ, commits, redelivery, group split."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from ingestion.contracts import CONTRACTS, Transaction, encode
from ingestion.dlq import DeadLetter
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner, Received, Rejection, RunnerMetrics
from tests.conftest import ROOT, clean_env, wait_for
from tests.ingestion.kafkautil import committed, produce_raw, read_all, transactions
from tests.samples import samples
from vigil.settings import Settings, Stream


def runner_for(settings: Settings, handler, name: str = "t", **kw) -> ConsumerRunner[Transaction]:
    return ConsumerRunner(
        settings,
        topic=settings.topic(Stream.TRANSACTIONS),
        model=Transaction,
        handler=handler,
        group=settings.group_id(name),
        **kw,
    )


def test_every_contract_round_trips_through_kafka(settings: Settings) -> None:
    events = samples()
    with EventProducer(settings) as producer:
        metas = {s: producer.publish([e])[0] for s, e in events.items()}
    got: dict[Stream, list[Received[Any]]] = {s: [] for s in events}
    runners = [
        ConsumerRunner(
            settings,
            topic=settings.topic(stream),
            model=CONTRACTS[stream],
            handler=got[stream].extend,
            group=settings.group_id(f"rt-{stream.name.lower()}"),
        )
        for stream in events
    ]
    # one group join each (seconds on Tansu): run them side by side
    threads = [threading.Thread(target=r.run, kwargs={"count": 1, "timeout": 30}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in runners:
        r.close()
    for stream, event in events.items():
        assert [r.event for r in got[stream]] == [event], stream
        assert got[stream][0].key == event.key.encode()
        assert got[stream][0].partition == metas[stream].partition
        assert got[stream][0].topic == settings.topic(stream)


def test_invalid_events_go_to_dlq_and_valid_neighbours_are_processed(settings: Settings) -> None:
    topic = settings.topic(Stream.TRANSACTIONS)
    good = transactions(4)
    bad_json = b'{"transaction_id": "broken'
    bad_contract = encode(good[0]).replace(b'"currency":"', b'"currency":"x')
    items = [
        (b"k1", encode(good[0])),
        (b"k1", bad_json),
        (b"k1", encode(good[1])),
        (b"k1", bad_contract),
        (b"k1", encode(good[2])),
        (b"k1", encode(good[3])),
    ]
    produce_raw(settings.kafka_bootstrap or "", topic, items)  # one key: one partition, in order

    seen: list[str] = []
    runner = runner_for(settings, lambda b: seen.extend(r.event.transaction_id for r in b))
    try:
        m = runner.run(count=len(items), timeout=30)
    finally:
        runner.close()

    assert seen == [g.transaction_id for g in good]
    assert (m.processed, m.dead_lettered) == (4, 2)
    letters = [
        DeadLetter.from_record(r)
        for r in read_all(settings.kafka_bootstrap or "", settings.dlq_topic(topic), 2)
    ]
    assert len(letters) == 2
    by_value = {dl.value: dl for dl in letters}
    assert by_value[bad_json].kind == "decode"
    assert "not valid JSON" in by_value[bad_json].reason
    assert by_value[bad_contract].kind == "validation"
    assert "currency" in by_value[bad_contract].reason
    assert all(dl.source_topic == topic and dl.key == b"k1" for dl in letters)
    assert sorted(dl.offset for dl in letters) == [1, 3]
    # offsets committed past everything, the bad records included: nothing blocks the partition
    part = letters[0].partition
    assert committed(settings.kafka_bootstrap or "", runner.group)[part] == len(items)


def test_handler_rejections_are_dead_lettered_as_processing_errors(settings: Settings) -> None:
    events = transactions(6)
    with EventProducer(settings) as p:
        p.publish(events)
    poison = events[2].transaction_id

    def handler(batch: Sequence[Received[Transaction]]) -> list[Rejection]:
        return [
            Rejection(r, "merchant is unknown to the ledger")
            for r in batch
            if r.event.transaction_id == poison
        ]

    runner = runner_for(settings, handler)
    try:
        m = runner.run(count=6, timeout=30)
    finally:
        runner.close()
    assert (m.processed, m.dead_lettered) == (5, 1)
    dlq = settings.dlq_topic(settings.topic(Stream.TRANSACTIONS))
    [letter] = [DeadLetter.from_record(r) for r in read_all(settings.kafka_bootstrap or "", dlq, 1)]
    assert letter.kind == "processing"
    assert letter.reason == "merchant is unknown to the ledger"
    assert Transaction.model_validate_json(letter.value or b"").transaction_id == poison


def test_a_failing_handler_is_retried_and_nothing_is_lost(settings: Settings) -> None:
    events = transactions(5)
    with EventProducer(settings) as p:
        p.publish(events)
    calls = {"n": 0}
    done: list[str] = []

    def flaky(batch: Sequence[Received[Transaction]]) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError("redis is restarting")
        done.extend(r.event.transaction_id for r in batch)

    runner = runner_for(settings, flaky)
    try:
        m = runner.run(count=5, timeout=30)
    finally:
        runner.close()
    assert sorted(done) == sorted(e.transaction_id for e in events)
    assert m.handler_retries >= 2
    assert sum(committed(settings.kafka_bootstrap or "", runner.group).values()) == 5


def run_quick_retries(
    settings: Settings, handler: Any, count: int
) -> tuple[RunnerMetrics, ConsumerRunner[Transaction]]:
    """Run ``count`` records through a runner that retries fast and gives up after 2 tries."""
    fast = settings.model_copy(
        update={"runner_retry_backoff_s": 0.01, "runner_handler_attempts": 2}
    )
    runner = runner_for(fast, handler, batch_size=50)
    try:
        return runner.run(count=count, timeout=60), runner
    finally:
        runner.close()


def test_a_record_the_handler_fails_on_goes_to_the_dlq_and_the_rest_go_on(
    settings: Settings,
) -> None:
    """Schema-valid poison (a handler error on one record, every time) was retried without
    end: the partition stalled and each retry re-published the batch's decisions. Now the
    batch is split until the one record is found; it goes to the DLQ with the error after
    its tries, the others are handled, and the offsets move past all of them."""
    events = transactions(9)
    with EventProducer(settings) as p:
        p.publish(events)
    poison = events[4].transaction_id
    handled: list[str] = []

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        if any(r.event.transaction_id == poison for r in batch):
            raise ValueError("year 0 is out of range")
        handled.extend(r.event.transaction_id for r in batch)

    m, runner = run_quick_retries(settings, handler, count=9)
    assert (m.processed, m.dead_lettered, m.handler_failures) == (8, 1, 1)
    assert sorted(set(handled)) == sorted(
        e.transaction_id for e in events if e.transaction_id != poison
    )
    dlq = settings.dlq_topic(settings.topic(Stream.TRANSACTIONS))
    [letter] = [DeadLetter.from_record(r) for r in read_all(settings.kafka_bootstrap or "", dlq, 1)]
    assert letter.kind == "processing"
    assert letter.reason == "the handler failed on it: ValueError: year 0 is out of range"
    assert Transaction.model_validate_json(letter.value or b"").transaction_id == poison
    assert sum(committed(settings.kafka_bootstrap or "", runner.group).values()) == 9


def test_a_dependency_that_is_down_is_waited_for_never_dead_lettered(settings: Settings) -> None:
    """Redis down is not poison: more failures than the attempts allow, and still nothing
    goes to the DLQ; the batch is handled whole once the dependency is back."""
    import redis.exceptions

    events = transactions(4)
    with EventProducer(settings) as p:
        p.publish(events)
    calls = {"n": 0}
    done: list[str] = []

    def handler(batch: Sequence[Received[Transaction]]) -> None:
        calls["n"] += 1
        if calls["n"] <= 5:
            raise redis.exceptions.ConnectionError("Connection refused")
        done.extend(r.event.transaction_id for r in batch)

    m, _ = run_quick_retries(settings, handler, count=4)
    assert (m.processed, m.dead_lettered, m.handler_failures) == (4, 0, 0)
    assert sorted(done) == sorted(e.transaction_id for e in events)


def test_a_record_too_large_for_the_dlq_goes_there_cut_with_its_size(settings: Settings) -> None:
    """A record near the broker's 1 MiB limit could not be copied to the DLQ with its
    headers: MessageSizeTooLargeError killed the consumer thread, on every restart."""
    topic = settings.topic(Stream.TRANSACTIONS)
    huge = b'{"transaction_id": "' + b"x" * 1_048_000 + b'"}'
    produce_raw(settings.kafka_bootstrap or "", topic, [(b"u1", huge)])
    runner = runner_for(settings, lambda batch: None)
    try:
        m = runner.run(count=1, timeout=60)
    finally:
        runner.close()
    assert m.dead_lettered == 1
    dlq = settings.dlq_topic(topic)
    [letter] = [DeadLetter.from_record(r) for r in read_all(settings.kafka_bootstrap or "", dlq, 1)]
    assert letter.original_size == len(huge)
    assert letter.value == huge[: len(letter.value or b"")]
    assert 0 < len(letter.value or b"") < len(huge)
    assert letter.kind == "validation"


def test_stop_leaves_an_unfinished_batch_uncommitted(settings: Settings) -> None:
    with EventProducer(settings) as p:
        p.publish(transactions(3))
    runner: ConsumerRunner[Transaction]

    def always_fails(batch: Sequence[Received[Transaction]]) -> None:
        runner.stop()
        raise ConnectionError("down")

    runner = runner_for(settings, always_fails)
    try:
        m = runner.run(timeout=30)
    finally:
        runner.close()
    assert runner.stopping
    assert m.consumed > 0
    assert m.commits == 0
    assert committed(settings.kafka_bootstrap or "", runner.group) == {}


def test_lag_metric_counts_what_is_left(settings: Settings) -> None:
    events = transactions(30)
    with EventProducer(settings) as p:
        p.publish(events)
    runner = runner_for(settings, lambda b: None, batch_size=5)
    try:
        runner.run(count=10, timeout=30)
        lag_midway = runner.metrics.total_lag
        runner.run(count=20, timeout=30)
        lag_end = runner.metrics.total_lag
    finally:
        runner.close()
    assert lag_end == 0
    assert 0 < lag_midway <= 20


@pytest.mark.slow
def test_killed_before_commit_redelivers_and_restart_resumes(
    settings: Settings, redis_client, redis_url: str
) -> None:
    client, prefix = redis_client
    bootstrap = settings.kafka_bootstrap or ""
    topic = settings.topic(Stream.TRANSACTIONS)
    group = settings.group_id("crash")
    first = transactions(12, seed=11)
    with EventProducer(settings) as p:
        metas = p.publish(first)
    # what a full commit must look like: one past the last offset of every partition written.
    # (Computed from the acks: Tansu's ListOffsets(latest) under-reports, fetch is right.)
    ends: dict[int, int] = {}
    for m in metas:
        ends[m.partition] = max(ends.get(m.partition, 0), m.offset + 1)

    def worker(key: str, count: int, kill: bool) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable,
            "-m",
            "tests.ingestion.worker_proc",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--group",
            group,
            "--redis",
            redis_url,
            "--key",
            prefix + key,
            "--count",
            str(count),
        ] + (["--kill-after-handling"] if kill else [])
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=clean_env(),
            cwd=ROOT,
            timeout=120,
            check=False,
        )

    a = worker("a", 12, kill=True)
    assert a.returncode == -9, a.stderr
    handled_by_a = [x.decode() for x in client.lrange(prefix + "a", 0, -1)]
    assert handled_by_a, "the killed worker handled nothing before dying"
    assert committed(bootstrap, group) == {} or sum(committed(bootstrap, group).values()) == 0

    b = worker("b", 12, kill=False)
    assert b.returncode == 0, b.stderr
    handled_by_b = [x.decode() for x in client.lrange(prefix + "b", 0, -1)]
    all_ids = {t.transaction_id for t in first}
    assert set(handled_by_b) == all_ids, "an event was lost"
    assert set(handled_by_a) <= set(handled_by_b), "what A processed without committing came back"
    assert committed(bootstrap, group) == ends

    second = transactions(5, seed=12)
    with EventProducer(settings) as p:
        p.publish(second)
    c = worker("c", 5, kill=False)
    assert c.returncode == 0, c.stderr
    handled_by_c = [x.decode() for x in client.lrange(prefix + "c", 0, -1)]
    assert sorted(handled_by_c) == sorted(t.transaction_id for t in second)


@pytest.mark.slow
def test_two_runners_in_one_group_split_the_partitions(settings: Settings) -> None:
    lock = threading.Lock()
    got: dict[str, list[Received[Transaction]]] = {"a": [], "b": []}

    def handler_for(name: str):
        def handle(batch: Sequence[Received[Transaction]]) -> None:
            with lock:
                got[name].extend(batch)

        return handle

    a = runner_for(settings, handler_for("a"), name="split")
    b = runner_for(settings, handler_for("b"), name="split")
    threads = [threading.Thread(target=r.run, kwargs={"timeout": 60}) for r in (a, b)]
    for t in threads:
        t.start()
    try:
        wait_for(
            lambda: (
                a.assignment()
                and b.assignment()
                and not (a.assignment() & b.assignment())
                and a.assignment() | b.assignment() == {0, 1, 2}
            ),
            timeout=40,
            what="both members to hold disjoint partitions",
        )
        parts_a, parts_b = a.assignment(), b.assignment()
        events = transactions(60, seed=21)
        with EventProducer(settings) as p:
            p.publish(events)
        wait_for(lambda: len(got["a"]) + len(got["b"]) >= 60, timeout=30, what="all 60 events")
    finally:
        a.stop()
        b.stop()
        for t in threads:
            t.join(timeout=30)
        a.close()
        b.close()
    ids_a = [r.event.transaction_id for r in got["a"]]
    ids_b = [r.event.transaction_id for r in got["b"]]
    assert ids_a, "member b did all the work"
    assert ids_b, "member a did all the work"
    assert not set(ids_a) & set(ids_b)
    assert set(ids_a) | set(ids_b) == {e.transaction_id for e in events}
    assert {r.partition for r in got["a"]} <= parts_a
    assert {r.partition for r in got["b"]} <= parts_b


@pytest.mark.slow
def test_sigterm_finishes_the_batch_in_hand_commits_and_exits(
    settings: Settings, redis_client: tuple[Any, str], redis_url: str
) -> None:
    client, prefix = redis_client
    bootstrap = settings.kafka_bootstrap or ""
    group = settings.group_id("graceful")
    events = transactions(40, seed=31)
    with EventProducer(settings) as p:
        p.publish(events)
    argv = [
        sys.executable, "-m", "tests.ingestion.worker_proc", "--bootstrap", bootstrap,
        "--topic", settings.topic(Stream.TRANSACTIONS), "--group", group, "--redis", redis_url,
        "--key", prefix + "g", "--batch-size", "4", "--slow", "0.3",
    ]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(), cwd=ROOT
    )
    try:
        wait_for(lambda: client.llen(prefix + "g") >= 4, 30, "the first batch")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    processed = json.loads(out.splitlines()[-1])["processed"]
    handled = [x.decode() for x in client.lrange(prefix + "g", 0, -1)]
    assert 4 <= processed < 40, "stopped at once, not after draining the topic"
    assert len(handled) == processed, "a batch was cut in half"
    assert sum(committed(bootstrap, group).values()) == processed, (
        "the last batch was not committed"
    )
