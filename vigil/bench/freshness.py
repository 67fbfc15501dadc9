"""``vigil bench freshness``: how soon context published to Kafka can be queried.

* profiles: publish a customer change, poll the profile store until it shows that
  version; baseline: a raw Redis GET round trip on the same server.
* documents: publish a document, poll until the retriever holds it; baseline: the same
  raw LanceDB query the poll makes.
* retrieval at scale: hybrid search over a LanceDB table of ``chunks`` chunks (random
  unit vectors, realistic text); baseline: LanceDB's raw vector-only query on the same
  table. Query embedding is excluded from both.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import redis
from rich.console import Console
from rich.table import Table

from ingestion.contracts import CustomerChange, CustomerProfilePatch, Event, KnowledgeDocument
from ingestion.knowledge.embeddings import MiniLMEmbedder
from ingestion.knowledge.lance import LanceRetriever
from ingestion.knowledge.types import Chunk
from ingestion.producer import EventProducer
from ingestion.profiles import RedisProfileStore
from ingestion.redis_keys import delete_prefixed
from vigil.ingest import ingestion
from vigil.settings import Settings
from vigil.stack import Stack


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def _until(check: Callable[[], bool], timeout: float = 60.0) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("the event never became queryable")
        time.sleep(0.002)
    return time.perf_counter() - started


def run_freshness_bench(
    settings: Settings, console: Console, *, profiles: int, documents: int, chunks: int
) -> None:
    embedder = MiniLMEmbedder()
    embedder.embed_query("warm up")
    with Stack(settings) as eff, tempfile.TemporaryDirectory() as tmp:
        client = redis.Redis.from_url(eff.redis_url or "")
        run_id = uuid.uuid4().hex[:8]
        s = eff.model_copy(
            update={"redis_prefix": f"bench:{run_id}", "kafka_group_prefix": f"bench.{run_id}"}
        )
        store = LanceRetriever(Path(tmp) / "vectors")
        producer = EventProducer(s)
        running = ingestion(s, client=client, embedder=embedder, retriever=store, producer=producer)
        running.start()
        profile_store = RedisProfileStore(client, prefix=s.redis_prefix)
        try:
            # warm up: both consumers joined their groups and processed something
            producer.publish([_change("warm", 1)])
            producer.publish([_doc("warm", 1)])
            _until(lambda: profile_store.get("warm") is not None, 120)
            _until(lambda: store.count("warm") > 0, 120)

            baseline_key = f"{s.redis_prefix}:baseline"
            client.set(baseline_key, _change("x", 1).model_dump_json())
            prof_lat, get_lat = _fresh(
                producer, profiles, lambda i: _change(f"c{i}", 1),
                lambda i: _has_profile(profile_store, f"c{i}"),
                lambda i: client.get(baseline_key),
            )  # fmt: skip
            doc_lat, query_lat = _fresh(
                producer, documents, lambda i: _doc(f"d{i}", 1),
                lambda i: _has_doc(store, f"d{i}"),
                lambda i: store.count(f"d{i}"),
            )  # fmt: skip
        finally:
            running.stop()
            producer.close()
            delete_prefixed(client, s.redis_prefix)
            client.close()

        hybrid, raw = _retrieval_at_scale(Path(tmp) / "scale", embedder, chunks)

    table = Table("measure", "p50", "p95", "baseline p50", "ratio (p50)", title="freshness")
    rows = [
        ("profile: publish -> lookup", prof_lat, "raw Redis GET", get_lat),
        ("document: publish -> retrievable", doc_lat, "raw LanceDB query", query_lat),
        (f"hybrid search, {chunks:,} chunks", hybrid, "raw LanceDB vector query", raw),
    ]
    for name, xs, base_name, base in rows:
        table.add_row(
            name,
            f"{_pct(xs, 50) * 1000:.1f} ms",
            f"{_pct(xs, 95) * 1000:.1f} ms",
            f"{statistics.median(base) * 1000:.2f} ms ({base_name})",
            f"{_pct(xs, 50) / statistics.median(base):.1f}x",
        )
    console.print(table)


def _fresh(
    producer: EventProducer,
    n: int,
    event: Callable[[int], Event],
    visible: Callable[[int], bool],
    baseline: Callable[[int], object],
) -> tuple[list[float], list[float]]:
    """Per event: publish -> visible (seconds), and the raw store read it is compared with."""
    latency, base = [], []
    for i in range(n):
        t0 = time.perf_counter()
        producer.send(event(i))
        producer.flush()
        _until(partial(visible, i))
        latency.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        baseline(i)
        base.append(time.perf_counter() - t1)
    return latency, base


def _has_profile(store: RedisProfileStore, cid: str) -> bool:
    return store.get(cid) is not None


def _has_doc(store: LanceRetriever, did: str) -> bool:
    return store.count(did) > 0


def _change(cid: str, version: int) -> CustomerChange:
    return CustomerChange(
        customer_id=cid,
        version=version,
        op="upsert",
        profile=CustomerProfilePatch(name=f"Customer {cid}", home_city="London", credit_score=720),
    )


def _doc(did: str, version: int) -> KnowledgeDocument:
    return KnowledgeDocument(
        doc_id=did,
        version=version,
        kb="faq",
        title=f"Question {did}",
        body=f"Answer number {did}: cards work abroad, limits reset at midnight, refunds take "
        "five working days, and financing needs a credit score of 700.",
    )


def _retrieval_at_scale(
    folder: Path, embedder: MiniLMEmbedder, n: int, queries: int = 100
) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(7)
    words = [
        "card", "fraud", "refund", "dispute", "financing", "travel", "limit", "pump", "bearing",
        "vibration", "turbine", "gearbox", "interest", "credit", "score", "mortgage", "savings",
    ]  # fmt: skip
    store = LanceRetriever(folder)
    vectors = rng.normal(size=(n, store.dim)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [
        Chunk(
            chunk_id=f"s{i}#0", doc_id=f"s{i}", version=1, kb="bench", title=f"Doc {i}",
            text=" ".join(random.Random(i).choices(words, k=60)), position=0,
            vector=tuple(float(x) for x in vectors[i]),
        )
        for i in range(n)
    ]  # fmt: skip
    for start in range(0, n, 2000):
        store.add(chunks[start : start + 2000])
    asked = [" ".join(random.Random(q).choices(words, k=2)) for q in range(queries)]
    qvecs = embedder.embed(asked)
    hybrid, raw = [], []
    for text, vec in zip(asked, qvecs, strict=True):
        t0 = time.perf_counter()
        store.search(text, vec, k=5)
        hybrid.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        store.table.search(vec).limit(5).to_list()
        raw.append(time.perf_counter() - t1)
    return hybrid, raw
