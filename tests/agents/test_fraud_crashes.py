"""SIGKILL the fraud agent at the worst moments of its escalation stage and of the
approval that follows; after restarts the story still ends once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ingestion.contracts import (
    Alert,
    ApprovalResponse,
    BlockAction,
    FraudDecision,
    FraudEscalation,
)
from ingestion.knowledge.lance import LanceRetriever
from ingestion.producer import EventProducer
from ingestion.profiles import RedisProfileStore
from ingestion.seed import seed_customers
from tests.agents.helpers import seed_knowledge
from tests.agents.test_fraud_e2e import london_paris
from tests.conftest import ROOT, clean_env
from tests.ingestion.kafkautil import read_all
from tools.approvals import PendingApprovals
from tools.lake import ParquetLake
from vigil.settings import Settings, Stream


def worker(env: dict[str, str], failpoint: str | None = None, seconds: float = 60) -> int:
    """One run of the fraud agent in its own process: until it dies at ``failpoint``, or
    (without one) until it has processed and committed everything there is."""
    run_env = dict(env)
    if failpoint:
        run_env["VIGIL_FAILPOINT"] = failpoint
    res = subprocess.run(
        [sys.executable, "-m", "tests.agents.fraud_proc", str(seconds)],
        capture_output=True, text=True, env=run_env, cwd=ROOT, timeout=seconds + 120, check=False,
    )  # fmt: skip
    if failpoint is None:
        assert res.returncode == 0, res.stderr[-3000:]
        assert json.loads(res.stdout.splitlines()[-1])["settled"], res.stderr[-3000:]
    return res.returncode


@pytest.mark.slow
def test_the_stage_killed_before_and_after_the_model_and_after_the_block(
    settings: Settings, redis_client: tuple[Any, str], tmp_path: Path
) -> None:
    client, prefix = redis_client
    p = prefix.rstrip(":")
    # the local model's answers cut at 128 tokens: what is proven is where the stage dies and
    # what it does again, not how long the model writes
    s = settings.model_copy(update={
        "redis_prefix": p, "checkpoint_prefix": f"{p}:cp", "data_dir": tmp_path,
        "llm_max_tokens": 128,
    })  # fmt: skip
    RedisProfileStore(client, prefix=p).apply(seed_customers(20))
    store = LanceRetriever(tmp_path / "vectors")
    seed_knowledge(store, client, p, kbs={"policies"})  # the one the fraud graph searches
    env = clean_env()
    for name, value in s.model_dump(mode="json").items():
        if value is not None and name != "lake_hash_key" and not isinstance(value, dict):
            env[f"VIGIL_{name.upper()}"] = str(value)
    with EventProducer(s) as producer:
        atm, coffee = london_paris()
        producer.publish([atm, coffee])

        # screening decides and hands off, commits; the stage dies at each point in turn
        assert worker(env, "before_model") == -9  # in the stage: context gathered, no model
        assert worker(env, "after_model") == -9  # assessed, never recorded
        worker(env)  # re-delivered again: the same thread waits for its approval, committed
        pending = PendingApprovals(client, prefix=p).pending()
        assert len(pending) == 1
        [request] = pending
        producer.publish(
            [
                ApprovalResponse(
                    approval_id=request.approval_id, interrupt_id=request.interrupt_id,
                    proposal_hash=request.proposal_hash, decision="approve", analyst="ana",
                )
            ]
        )  # fmt: skip
        assert worker(env, "after_block") == -9  # blocked, no alert yet, not committed
        worker(env)  # the answer re-delivered: the alert and the lake row, the block not again

    boot = s.kafka_bootstrap or ""
    handed = [FraudEscalation.model_validate_json(r.value)
              for r in read_all(boot, s.topic(Stream.FRAUD_ESCALATIONS), 1)]  # fmt: skip
    assert [h.transaction.transaction_id for h in handed] == [coffee.transaction_id]
    decisions = [
        FraudDecision.model_validate_json(r.value)
        for r in read_all(boot, s.topic(Stream.FRAUD_DECISIONS), 4)
    ]
    finals = [d for d in decisions if d.event_id.startswith("final-")]
    assert [(d.transaction_id, d.outcome) for d in finals] == [(coffee.transaction_id, "block")]
    held = {d.pending_action for d in decisions if d.event_id == f"screen-{coffee.transaction_id}"}
    assert held == {"hold"}  # the payment was held while the stage worked
    ids_per_tx: dict[str, set[str]] = {}
    for d in decisions:
        ids_per_tx.setdefault(d.transaction_id, set()).add(d.event_id)
    assert ids_per_tx == {
        atm.transaction_id: {f"screen-{atm.transaction_id}"},
        coffee.transaction_id: {
            f"screen-{coffee.transaction_id}",
            f"final-{coffee.transaction_id}",
        },
    }
    blocks = [
        BlockAction.model_validate_json(r.value)
        for r in read_all(boot, s.topic(Stream.BLOCK_ACTIONS), 1)
    ]
    assert len(blocks) == 1
    alerts = [Alert.model_validate_json(r.value) for r in read_all(boot, s.topic(Stream.ALERTS), 2)]
    assert sorted(a.audience for a in alerts) == ["customer_service", "fraud_team"]
    lake = ParquetLake(s.lake_path, s.lake_hash_key.get_secret_value()).decisions().to_pylist()
    assert [(r["transaction_id"], r["outcome"]) for r in lake] == [(coffee.transaction_id, "block")]
    assert json.loads(lake[0]["model_calls"])  # the model call that decided is on record
