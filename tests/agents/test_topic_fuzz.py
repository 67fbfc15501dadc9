"""Every input topic fuzzed through the consumers that read it in production (the fraud,
maintenance and monitoring agents and the context ingestion, on Tansu and Redis): random
bytes, random JSON, and schema-valid events with hostile values (ids with path separators
and control characters, lone surrogates, extreme numbers, the ends of time, huge strings).

Each record must end decided or dead-lettered in bounded time: every consumer group's
commit reaches the end of its topic (no partition stalls), every record the contract
refuses is in its DLQ exactly once, and no file is written outside the data folder.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from agents.service import AgentService
from graphs.checkpointer import RedisSaver
from graphs.llm import ModelEntry, ModelGateway
from graphs.llm.fake import ScriptedChatModel
from ingestion.contracts import CONTRACTS, decode
from ingestion.dlq import DeadLetter
from ingestion.errors import ContractError
from ingestion.producer import EventProducer
from ingestion.runner import ConsumerRunner
from ingestion.seed import seed_customers
from tests.agents.test_fraud_e2e import BLOCK
from tests.agents.test_proactive_e2e import ALERT, DRAFT
from tests.conftest import ROOT
from tests.ingestion.kafkautil import committed
from tests.ingestion.test_retrieval_conformance import EMBEDDER
from tests.samples import samples
from vigil.settings import INPUT_STREAMS, Settings, Stream
from vigil.wiring.feeds import ingestion
from vigil.wiring.workers import agent

pytestmark = pytest.mark.timeout(900)

#: a marker in every hostile id: a file named with it anywhere means an id became a path
MARK = f"escape{uuid.uuid4().hex[:8]}"

HOSTILE_TEXT = [
    f"x/../../../../../{MARK}", f"..\\..\\{MARK}", f"/etc/{MARK}", f"{MARK}\x00nul",
    f"a\u001fb{MARK}", f"{MARK}\ud800", "\udfff", "x" * 97, "y" * 129, "z" * 10_000, "",
    " ", "a\nb", "\u202e" + MARK, "%2e%2e%2f" + MARK, "CON", MARK + ":" * 90,
]  # fmt: skip
HOSTILE_NUMBERS: list[Any] = [
    0, -1, 2**53, 2**53 + 1, 2**63, 10**19, -(2**63), 10**400, 1.7e308, -1.7e308, 5e-324,
    0.1, 1e12, 1e12 + 1, True, None, "NaN", "1e999",
]  # fmt: skip
HOSTILE_TIMES = [
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z",
    "2026-02-30T00:00:00Z", "2026-11-03T09:15:00", "not a time", "", 253402300800,
    -62135596800, 1e20,
]  # fmt: skip


def json_values() -> st.SearchStrategy[Any]:
    leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=30), st.sampled_from(HOSTILE_TEXT))  # fmt: skip
    return st.recursive(
        leaf,
        lambda inner: st.one_of(st.lists(inner, max_size=4),
                                st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=12,
    )  # fmt: skip


def hostile_event(stream: Stream) -> st.SearchStrategy[bytes]:
    """A valid sample of the stream with one to three fields replaced by hostile values."""
    base = json.loads(samples()[stream].model_dump_json())
    fields = sorted(base)
    value = st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_NUMBERS),
                      st.sampled_from(HOSTILE_TIMES), json_values())  # fmt: skip

    def build(changes: dict[str, Any], unique: str) -> bytes:
        event = {**base, **changes}
        for key in ("transaction_id", "event_id", "signal_id", "log_id", "doc_id"):
            if key in event and key not in changes:
                event[key] = f"{event[key]}-{unique}"  # new entities, not re-deliveries
        return json.dumps(event).encode()  # lone surrogates go out as \ud800 escapes

    changes = st.dictionaries(st.sampled_from(fields), value, min_size=1, max_size=3)
    return st.builds(build, changes, st.uuids().map(lambda u: u.hex[:12]))


#: values at the edges of what the contracts accept
EDGE_IDS = ["a" * 96, "A0.b_c:d@e+f=g-h", "x" + "-" * 95, "9", "tx.1.2.3", "é" * 3]
EDGE_NUMBERS: list[Any] = [0, 1, 2**53, 1e12, -1e12, 5e-324, 1e-12, -90, 90, -180, 180]
EDGE_TIMES = ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-11-03T09:15:00+14:00",
              "2026-11-03T09:15:00-12:00", "2026-11-03T09:15:00.999999Z"]  # fmt: skip
EDGE_TEXT = ["\U0001f600 emoji and \u202e right-to-left", "t" * 2000, "Ünïcödé ∑ 中文"]


def edge_event(stream: Stream) -> st.SearchStrategy[bytes]:
    """A schema-valid event of the stream with fields at the edges of what it accepts."""
    base = json.loads(samples()[stream].model_dump_json())
    model = CONTRACTS[stream]

    def build(changes: dict[str, Any], unique: str) -> bytes:
        event = {**base, **changes}
        for key in ("transaction_id", "event_id", "signal_id", "log_id", "doc_id"):
            if key in event and key not in changes:
                event[key] = f"{event[key]}-{unique}"
        return json.dumps(event).encode()

    def valid(raw: bytes) -> bool:
        try:
            decode(model, raw)
        except ContractError:
            return False
        return True

    def values(field: str) -> st.SearchStrategy[Any]:
        if isinstance(base[field], bool):
            return st.booleans()
        if isinstance(base[field], int | float):
            return st.sampled_from(EDGE_NUMBERS)
        if isinstance(base[field], str):
            return st.sampled_from(EDGE_IDS + EDGE_TIMES + EDGE_TEXT)
        return st.just(base[field])

    changes = st.sampled_from(sorted(base)).flatmap(lambda f: st.fixed_dictionaries({f: values(f)}))
    unique = st.uuids().map(lambda u: u.hex[:12])
    return st.one_of(st.builds(build, changes, unique).filter(valid),
                     st.builds(build, st.just({}), unique))  # fmt: skip


def records(stream: Stream) -> st.SearchStrategy[list[bytes]]:
    one = st.one_of(
        st.binary(max_size=200),
        json_values().map(lambda v: json.dumps(v).encode()),
        hostile_event(stream),
        edge_event(stream),
    )
    # each batch has at least one valid event, so the handlers' paths run too
    return st.tuples(edge_event(stream), st.lists(one, max_size=6)).map(lambda t: [t[0], *t[1]])


class Consumers:
    """The production consumers of every input topic, on the test's servers."""

    def __init__(self, s: Settings, client: Any) -> None:
        self.producer = EventProducer(s)
        scripts = {"fraud": [BLOCK], "maintenance": [DRAFT], "monitoring": [ALERT]}
        self.services: list[AgentService] = [
            agent(name, s, self.producer, client=client, embedder=EMBEDDER,
                  gateway=ModelGateway([ModelEntry("scripted",
                                                   ScriptedChatModel(script=script * 2000),
                                                   structured="json")], backoff_s=0.01),
                  checkpointer=RedisSaver(client, prefix=s.checkpoint_prefix))
            for name, script in scripts.items()
        ]  # fmt: skip
        self.feeds = ingestion(s, client=client, embedder=EMBEDDER, producer=self.producer)
        self.services[0].worker.ctx.tools.profiles.apply(seed_customers(20))

    @property
    def runners(self) -> list[ConsumerRunner[Any]]:
        return [r for svc in self.services for r in svc.runners] + [
            self.feeds.profiles, self.feeds.knowledge]  # fmt: skip

    def dead(self) -> dict[str, str]:
        out = dict(self.feeds.dead)
        for svc in self.services:
            out.update(svc.dead)
        return out

    def start(self) -> None:
        for svc in self.services:
            svc.start()
        self.feeds.start()

    def stop(self) -> None:
        for svc in self.services:
            svc.stop(15)
        self.feeds.stop(15)
        self.producer.close()


@pytest.fixture
def consumers(settings: Settings, redis_client: tuple[Any, str], tmp_path: Path) -> Iterator[
        tuple[Settings, Consumers]]:  # fmt: skip
    client, prefix = redis_client
    s = settings.model_copy(update={
        "redis_prefix": prefix.rstrip(":"), "checkpoint_prefix": prefix + "cp",
        "data_dir": tmp_path / "data", "runner_retry_backoff_s": 0.01,
        "runner_retry_backoff_max_s": 0.05,
        # with its features the fraud agent reads fraud.labels too: every input is read
        "fraud_features": True,
    })  # fmt: skip
    running = Consumers(s, client)
    running.start()
    try:
        yield s, running
    finally:
        running.stop()


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def dead_letters(bootstrap: str, topic: str) -> list[DeadLetter]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for recs in consumer.poll(timeout_ms=500).values():
                out += [DeadLetter.from_record(r) for r in recs]
        return out
    finally:
        consumer.close()


def files_named_with(root: Path, mark: str) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules")]
        found += [os.path.join(folder, n) for n in names + dirs if mark in n]
    return found


def test_every_input_topic_ends_decided_or_dead_lettered_and_never_stalls(
    consumers: tuple[Settings, Consumers], tmp_path_factory: pytest.TempPathFactory
) -> None:
    s, running = consumers
    boot = s.kafka_bootstrap or ""
    raw = KafkaProducer(bootstrap_servers=boot, acks="all", max_request_size=2_000_000)
    sent: dict[str, list[tuple[int, int, bytes]]] = {s.topic(st_): [] for st_ in INPUT_STREAMS}
    batches = st.fixed_dictionaries({stream: records(stream) for stream in INPUT_STREAMS})

    @given(batch=batches)
    @hsettings(max_examples=12, deadline=None, database=None,
               suppress_health_check=list(HealthCheck))  # fmt: skip
    def feed(batch: dict[Stream, list[bytes]]) -> None:
        futures = []
        for stream, values in batch.items():
            topic = s.topic(stream)
            for i, value in enumerate(values):
                key = f"k{i % 3}".encode()
                futures.append((topic, value, raw.send(topic, key=key, value=value)))
        raw.flush()
        for topic, value, future in futures:
            meta = future.get(timeout=30)
            sent[topic].append((meta.partition, meta.offset, value))
        settle(s, running, 90)

    try:
        feed()
    finally:
        raw.close()
    assert running.dead() == {}
    for stream in INPUT_STREAMS:
        topic = s.topic(stream)
        letters = [d for d in dead_letters(boot, s.dlq_topic(topic)) if d.source_topic == topic]
        where = [(d.partition, d.offset) for d in letters]
        assert len(where) == len(set(where)), f"{topic}: a record dead-lettered twice"
        for partition, offset, value in sent[topic]:
            try:
                decode(CONTRACTS[stream], value)
            except ContractError:
                assert (partition, offset) in where, (topic, value[:200])
    base = tmp_path_factory.getbasetemp()
    assert files_named_with(base, MARK) == []
    assert files_named_with(ROOT, MARK) == []
    lake = s.lake_path
    if lake.exists():
        for path in lake.rglob("*"):
            assert path.resolve().is_relative_to(s.data_dir.resolve()), path


def settle(s: Settings, running: Consumers, timeout: float) -> None:
    """Wait until every consumer group has committed to the end of its topic."""
    boot = s.kafka_bootstrap or ""
    deadline = time.monotonic() + timeout
    behind: list[str] = []
    while time.monotonic() < deadline:
        assert running.dead() == {}, running.dead()
        behind = []
        for runner in running.runners:
            ends = end_offsets(boot, runner.topic)
            done = committed(boot, runner.group)
            behind += [f"{runner.group} p{p}: {done.get(p, 0)} of {end}"
                       for p, end in ends.items() if end and done.get(p, 0) < end]  # fmt: skip
        if not behind:
            return
        time.sleep(0.5)
    raise AssertionError(f"consumers stalled after {timeout} s: {behind}")


def test_a_malformed_answer_is_dead_lettered_once_not_once_per_agent(
    consumers: tuple[Settings, Consumers],
) -> None:
    """Every agent that asks for approvals reads approvals.responses; each dead-lettered a
    malformed answer, so one bad record became a letter per agent."""
    s, running = consumers
    boot = s.kafka_bootstrap or ""
    topic = s.topic(Stream.APPROVAL_RESPONSES)
    bad = [b"not json", b'{"approval_id": "appr-x"}', b'{"decision": "maybe"}']
    producer = KafkaProducer(bootstrap_servers=boot, acks="all")
    try:
        for value in bad:
            producer.send(topic, value=value)
        producer.flush()
    finally:
        producer.close()
    settle(s, running, 60)
    readers = [r for r in running.runners if r.topic == topic]
    assert len(readers) == 2  # the fraud and the maintenance agents
    letters = [d for d in dead_letters(boot, s.dlq_topic(topic)) if d.source_topic == topic]
    assert len(letters) == len(bad)
    assert {d.group for d in letters} == {s.group_id("fraud-approvals")}
    assert sorted(r.metrics.left_invalid for r in readers) == [0, len(bad)]
