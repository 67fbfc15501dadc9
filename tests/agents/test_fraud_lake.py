"""A deployment's own history: the fraud agent's screening decisions and the labels kept
in the lake by the archive, and a risk model trained on them, on real servers.

A labelled fraud history goes through the topics by `vigil simulate --fraud-days`; the
running fraud agent screens it; `vigil lake archive` keeps its decisions and the
labels; `vigil fraud train --from-lake` learns from them."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from agents.archive import LakeArchive
from agents.fraud.history import lake_examples
from agents.fraud.model_store import ModelStore
from ingestion.contracts import FraudDecision, FraudLabel, Transaction
from tests.agents.test_fraud_e2e import BLOCK, World, world  # noqa: F401 - the fixture
from tests.conftest import clean_env, run_vigil, wait_for
from tests.ingestion.test_contracts import HOSTILE_TEXT
from tools.lake import ParquetLake
from vigil.settings import Settings, Stream
from vigil.simulate import SimPlan, fraud_history

KEY = "test-only-key"
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def screening(tx: str, paid: datetime, **signals: Any) -> FraudDecision:
    return FraudDecision(
        event_id=f"screen-{tx}", transaction_id=tx, user_id="cust-john",
        card_id="card-john-debit", outcome="allow", risk_score=0.1, decided_by="screening",
        signals={"amount_gbp": 12.5, "paid_at": paid.isoformat(), **signals},
    )  # fmt: skip


def label(tx: str, verdict: str, known: datetime, n: int = 0) -> FraudLabel:
    return FraudLabel(event_id=f"lbl-{tx}-{n}", transaction_id=tx, label=verdict,
                      source="chargeback", known_at=known)  # fmt: skip


def test_batches_are_kept_once_and_joined_with_the_last_verdict(tmp_path: Path) -> None:
    lake = ParquetLake(tmp_path, KEY)
    rows = [lake.screening_row(screening(f"tx-{i}", AT + timedelta(days=i))) for i in range(3)]
    rows[2] = lake.screening_row(screening("tx-2", AT + timedelta(days=2), hard_risk=0.9))
    assert lake.write_batch("screenings", "fraud.decisions:0:10:12", rows) == 3  # 3 dates
    assert lake.write_batch("screenings", "fraud.decisions:0:10:12", rows) == 0  # again: kept
    # read again after a crash, cut differently: the readers keep one row per payment
    assert lake.write_batch("screenings", "fraud.decisions:0:11:12", rows[1:]) == 2
    labels = [label("tx-0", "fraud", AT + timedelta(days=5)),
              label("tx-0", "genuine", AT + timedelta(days=9), 1),  # the verdict changed
              label("tx-1", "fraud", AT + timedelta(days=6))]  # fmt: skip
    lake.write_batch("labels", "fraud.labels:0:0:2", [lake.label_row(x) for x in labels])
    got = lake.screenings()
    assert sorted(r["transaction_id"] for r in got) == ["tx-0", "tx-1", "tx-2"]
    assert all(r["paid_at"] == AT + timedelta(days=int(r["transaction_id"][-1])) for r in got)
    assert "cust-john" not in {r["customer"] for r in got}  # pseudonymized
    assert [r["label"] for r in lake.labels()] == ["fraud", "fraud", "genuine"]
    examples = lake_examples(got, lake.labels())
    assert [(e.at, e.fraud, e.ruled) for e in examples] == [
        (AT, False, False),  # fraud, then found genuine: the last verdict counts
        (AT + timedelta(days=1), True, False),
        (AT + timedelta(days=2), False, True),  # the rules' floor flagged it
    ]
    assert examples[0].signals["amount_gbp"] == 12.5
    # hidden temporary files never stay behind; the folders are Hive partitions by date
    assert not list(tmp_path.rglob(".*.tmp"))
    assert (tmp_path / "screenings" / "date=2026-03-04").is_dir()


def _env(s: Settings) -> dict[str, str]:
    return clean_env() | {
        "VIGIL_KAFKA_BOOTSTRAP": s.kafka_bootstrap or "",
        "VIGIL_REDIS_URL": s.redis_url or "",
        "VIGIL_REDIS_PREFIX": s.redis_prefix,
        "VIGIL_DATA_DIR": str(s.data_dir),
        "VIGIL_KAFKA_GROUP_PREFIX": s.kafka_group_prefix,
        "VIGIL_TOPIC_FRAUD_DECISIONS": s.topic(Stream.FRAUD_DECISIONS),
        "VIGIL_TOPIC_FRAUD_LABELS": s.topic(Stream.FRAUD_LABELS),
        "VIGIL_TOPIC_TRANSACTIONS": s.topic(Stream.TRANSACTIONS),
        "VIGIL_TOPIC_CUSTOMER_CHANGES": s.topic(Stream.CUSTOMER_CHANGES),
    }


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.script(*[BLOCK] * 400, fraud_features=True, fraud_model=False)
def test_an_agents_own_history_trains_a_model(
    world: World,  # noqa: F811 - the fixture imported above
    redis_client: tuple[Any, str],
) -> None:
    s = world.settings
    start = (datetime.now(UTC) - timedelta(days=14)).replace(microsecond=0)
    plan = SimPlan(seed=3, customers=60, fraud_days=14, run="lake", start=start)
    events = list(fraud_history(plan))
    payments = [e for e in events if isinstance(e, Transaction)]
    labels = [e for e in events if isinstance(e, FraudLabel)]
    assert sum(x.label == "fraud" for x in labels) >= 20
    # each label goes out before the first payment made after it was known
    place = {id(e): i for i, e in enumerate(events)}
    paid = sorted((p.timestamp, place[id(p)]) for p in payments)
    assert [i for _, i in paid] == sorted(i for _, i in paid)
    for x in labels:
        later = [i for t, i in paid if t >= x.known_at]
        assert not later or place[id(x)] < later[0]
    env = _env(s)
    # published as a user would: the same plan through `vigil simulate --fraud-days`
    sent = run_vigil("simulate", "--fraud-days", "14", "--customers", "60", "--seed", "3",
                     "--run-id", "lake", "--start", start.isoformat(), "--rate", "0",
                     "--quiet", env=env, timeout=200)  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert f"produced {len(events)} events" in sent.stdout

    lake = ParquetLake(s.lake_path, s.lake_hash_key.get_secret_value())
    archive = LakeArchive(s, lake)
    try:
        wait_for(lambda: archive.drain(60).screenings >= len(payments), 120,
                 "every payment screened and archived")  # fmt: skip
        assert archive.drain(60).labels == len(labels)
    finally:
        archive.close()
    got = lake.screenings()
    assert {r["transaction_id"] for r in got} == {p.transaction_id for p in payments}
    signals = json.loads(got[0]["signals"])
    assert "terminal_payments" in signals  # the behaviour features, as screened
    assert len(lake.labels()) == len(labels)

    # the commands, as a platform team runs them: archive (nothing new), then train
    again = run_vigil("lake", "archive", "--timeout", "60", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "archived 0 screening decisions and 0 labels" in again.stdout
    done = run_vigil("fraud", "train", "--version", "own-1", "--from-lake", env=env, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(payments):,} screened payments in the lake" in done.stdout
    client, _prefix = redis_client
    store = ModelStore(s.data_dir / "fraud" / "models", client, s.redis_prefix)
    meta = store.load("own-1").meta
    assert meta["history"]["kind"] == "lake"
    assert meta["history"]["payments"] == len(payments)
    assert meta["trained_on"]["frauds"] > 0
    assert 0 < meta["metrics"]["pr_auc"] <= 1


def test_an_empty_or_short_lake_is_a_clear_error(settings: Settings, redis_url: str) -> None:
    env = _env(settings)
    empty = run_vigil("fraud", "train", "--version", "x", "--from-lake", env=env)
    assert empty.returncode == 2
    assert "has no screening decisions: run `vigil lake archive`" in empty.stderr
    lake = ParquetLake(settings.lake_path, settings.lake_hash_key.get_secret_value())
    rows = [lake.screening_row(screening(f"tx-{i}", AT + timedelta(days=i))) for i in range(4)]
    lake.write_batch("screenings", "b", rows)
    short = run_vigil("fraud", "train", "--version", "x", "--from-lake", env=env)
    assert short.returncode == 2
    assert "span 3.0 days" in short.stderr
    assert "needs at least 11" in short.stderr


@given(
    paid=HOSTILE_TEXT | st.just("9" * 10_000) | st.just("2026-03-02T10:00:00") | st.none(),
    tx=st.text(alphabet="/\\.:x-", min_size=1, max_size=40),
)
@hyp_settings(max_examples=60, deadline=None)
def test_a_hostile_paid_at_or_id_never_breaks_the_archive(paid: str | None, tx: str) -> None:
    """A decision's ``paid_at`` is a signal like any other: one that is not an ISO time
    with its zone falls back to when it was decided; ids never choose a file's place."""
    with tempfile.TemporaryDirectory() as root:
        lake = ParquetLake(Path(root), KEY)
        decision = screening("tx-1", AT).model_copy(
            update={"transaction_id": tx, "signals": {"paid_at": paid}}
        )
        row = lake.screening_row(decision)
        if not (isinstance(paid, str) and paid.startswith("2026-03-02T10")):
            assert row["paid_at"] == decision.decided_at
        lake.write_batch("screenings", f"{tx}:0:1:2", [row])
        [got] = lake.screenings()
        assert got["transaction_id"] == tx
        assert all(
            p.parent.parent == Path(root) / "screenings" for p in Path(root).rglob("*.parquet")
        )
