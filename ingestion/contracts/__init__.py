"""Event contracts: one pydantic model per stream, a schema version, JSON serde.

Readers are tolerant (unknown fields are ignored, so producers can add fields
without breaking consumers); a ``schema_version`` this code cannot read is refused
with its own error kind. Every event names the field it is keyed by on Kafka, so
per-entity order holds within a partition.

The shared base and serde are in ``base``; the streams Vigil consumes from outside in
``inputs``; what Vigil publishes in ``outputs``. Import them from here.
"""

from ingestion.contracts.base import (
    DERIVED_ID_MAX,
    ID_MAX,
    Country,
    Currency,
    DerivedId,
    E,
    Event,
    Id,
    Instant,
    Label,
    Latitude,
    Longitude,
    Text,
    construct,
    decode,
    derived_id,
    encode,
    new_id,
    utcnow,
)
from ingestion.contracts.inputs import (
    SEVERITY_RANK,
    Channel,
    CustomerChange,
    CustomerProfilePatch,
    FraudLabel,
    KnowledgeDocument,
    MaintenanceLog,
    MonitoringSignal,
    Region,
    SensorReading,
    Severity,
    Transaction,
)
from ingestion.contracts.outputs import (
    Alert,
    ApprovalRequest,
    ApprovalResponse,
    BlockAction,
    FraudDecision,
    FraudEscalation,
    WorkOrder,
)
from vigil.settings import Stream

CONTRACTS: dict[Stream, type[Event]] = {
    model.STREAM: model
    for model in (
        Transaction,
        CustomerChange,
        KnowledgeDocument,
        SensorReading,
        MonitoringSignal,
        MaintenanceLog,
        FraudDecision,
        FraudEscalation,
        FraudLabel,
        Alert,
        BlockAction,
        ApprovalRequest,
        ApprovalResponse,
        WorkOrder,
    )
}


__all__ = [
    "CONTRACTS",
    "DERIVED_ID_MAX",
    "ID_MAX",
    "SEVERITY_RANK",
    "Alert",
    "ApprovalRequest",
    "ApprovalResponse",
    "BlockAction",
    "Channel",
    "Country",
    "Currency",
    "CustomerChange",
    "CustomerProfilePatch",
    "DerivedId",
    "E",
    "Event",
    "FraudDecision",
    "FraudEscalation",
    "FraudLabel",
    "Id",
    "Instant",
    "KnowledgeDocument",
    "Label",
    "Latitude",
    "Longitude",
    "MaintenanceLog",
    "MonitoringSignal",
    "Region",
    "SensorReading",
    "Severity",
    "Text",
    "Transaction",
    "WorkOrder",
    "construct",
    "decode",
    "derived_id",
    "encode",
    "new_id",
    "utcnow",
]
