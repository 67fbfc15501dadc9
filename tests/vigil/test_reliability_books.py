"""The reliability bench's books count raw records: a check that could never fire
(it de-duplicated by event id first, and screening's ids come from the transaction)
now sees a transaction decided two ways."""

from __future__ import annotations

from typing import Any

from ingestion.contracts import FraudDecision
from vigil.bench.reliability import screening_books


def decision(tx: str, outcome: Any = "allow", score: float = 0.1) -> FraudDecision:
    return FraudDecision(
        event_id=f"screen-{tx}",
        transaction_id=tx,
        user_id="cust-1",
        card_id="card-1",
        outcome=outcome,
        risk_score=score,
        decided_by="screening",
    )


def test_a_redelivery_is_counted_once_and_a_second_verdict_is_a_conflict() -> None:
    records = [
        decision("tx-1"),
        decision("tx-1"),  # re-delivered: same id, same content (decided again, later)
        decision("tx-2"),
        decision("tx-3", "allow"),
        decision("tx-3", "escalate", 0.8),  # the same id, decided another way
    ]
    per_tx, redelivered, conflicting = screening_books(records)
    assert per_tx == {"tx-1": 1, "tx-2": 1, "tx-3": 2}
    assert redelivered == 1
    assert conflicting == ["tx-3"]
