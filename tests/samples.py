"""One valid sample event per stream, for round-trip tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ingestion.contracts import (
    Alert,
    ApprovalRequest,
    ApprovalResponse,
    BlockAction,
    CustomerChange,
    CustomerProfilePatch,
    Event,
    FraudDecision,
    FraudEscalation,
    KnowledgeDocument,
    MaintenanceLog,
    MonitoringSignal,
    Region,
    SensorReading,
    Transaction,
    WorkOrder,
)
from vigil.settings import Stream

T0 = datetime(2026, 11, 3, 9, 15, 0, tzinfo=UTC)


def samples() -> dict[Stream, Event]:
    atm = Transaction(
        transaction_id="tx-1",
        user_id="cust-john",
        card_id="card-john-debit",
        timestamp=T0,
        amount=Decimal("200.00"),
        currency="GBP",
        merchant="ATM King's Cross",
        merchant_category="atm",
        channel="atm",
        lat=51.5308,
        lon=-0.1238,
        city="London",
        country="GB",
    )
    paris = atm.model_copy(update={
        "transaction_id": "tx-2", "amount": Decimal("4.50"), "currency": "EUR",
        "merchant": "Café de Flore", "merchant_category": "restaurants",
        "channel": "card_present", "lat": 48.854, "lon": 2.333, "city": "Paris", "country": "FR",
    })  # fmt: skip
    return {
        Stream.TRANSACTIONS: atm,
        Stream.CUSTOMER_CHANGES: CustomerChange(
            customer_id="cust-john",
            version=3,
            op="upsert",
            changed_at=T0,
            profile=CustomerProfilePatch(
                name="John Carter",
                age=55,
                marital_status="married",
                credit_score=795,
                tenure_years=22,
                home_ownership="own_outright",
                cards=["card-john-debit"],
                usual_amount=Decimal("48.00"),
            ),
        ),
        Stream.KNOWLEDGE_DOCUMENTS: KnowledgeDocument(
            doc_id="policy-fraud",
            version=2,
            kb="policies",
            title="Card fraud policy",
            body="Block only with an analyst's approval.",
            tags=["fraud"],
            updated_at=T0,
        ),
        Stream.SENSOR_READINGS: SensorReading(
            asset_id="pump-03",
            asset_type="centrifugal_pump",
            timestamp=T0,
            metrics={"vibration_mm_s": 7.9, "bearing_temp_c": 81.5},
            units={"rpm": "rpm"},
        ),
        Stream.MONITORING_SIGNALS: MonitoringSignal(
            signal_id="sig-storm-london",
            category="weather",
            severity="severe",
            region=Region(name="London", cities=["London"], sites=["plant-north"]),
            headline="Severe storm warning for London",
            source="national-weather-service",
            issued_at=T0,
        ),
        Stream.MAINTENANCE_LOGS: MaintenanceLog(
            log_id="log-1",
            asset_id="pump-03",
            performed_at=T0,
            kind="repair",
            summary="Replaced the drive-end bearing.",
            parts=["BK-6309"],
        ),
        Stream.FRAUD_DECISIONS: FraudDecision(
            transaction_id="tx-2",
            user_id="cust-john",
            card_id="card-john-debit",
            outcome="escalate",
            risk_score=0.97,
            reasons=["implied speed 19,328 mph"],
            signals={"speed_mph": 19328.0, "card_present": True},
            decided_by="screening",
            decided_at=T0,
        ),
        Stream.FRAUD_ESCALATIONS: FraudEscalation(
            event_id="escalation-tx-2",
            user_id="cust-john",
            transaction=paris,
            risk=0.97,
            reasons=["implied speed 19,328 mph"],
            signals={"speed_mph": 19328.0, "amount": 4.5},
            screened_at=T0,
        ),
        Stream.ALERTS: Alert(
            alert_id="alert-tx-2",
            severity="critical",
            audience="fraud_team",
            title="Card blocked: impossible travel",
            source="fraud-agent",
            subject_id="cust-john",
            created_at=T0,
            refs={"transaction_id": "tx-2"},
        ),
        Stream.BLOCK_ACTIONS: BlockAction(
            transaction_id="tx-2",
            card_id="card-john-debit",
            user_id="cust-john",
            authority="analyst",
            approval_id="appr-1",
            approved_by="analyst.ana",
            proposal_hash="sha256:abc",
            reason="impossible travel",
            blocked_at=T0,
        ),
        Stream.APPROVAL_REQUESTS: ApprovalRequest(
            approval_id="appr-1",
            interrupt_id="intr-1",
            thread_id="fraud:tx-2",
            kind="block_transaction",
            subject_id="cust-john",
            proposal={"action": "block", "transaction_id": "tx-2"},
            proposal_hash="sha256:abc",
            evidence=["speed"],
            requested_at=T0,
            deadline=T0 + timedelta(minutes=30),
        ),
        Stream.APPROVAL_RESPONSES: ApprovalResponse(
            approval_id="appr-1",
            interrupt_id="intr-1",
            proposal_hash="sha256:abc",
            decision="approve",
            analyst="analyst.ana",
            decided_at=T0,
        ),
        Stream.WORK_ORDERS: WorkOrder(
            work_order_id="wo-1",
            asset_id="pump-03",
            priority="high",
            action="Replace drive-end bearing",
            predicted_failure_at=T0 + timedelta(days=3),
            source_event_ids=["evt-9"],
            created_at=T0,
        ),
    }
