"""Errors at the Kafka edge."""

from __future__ import annotations

from typing import Literal

ContractErrorKind = Literal["decode", "validation", "schema_version"]


class IngestionError(Exception):
    """Base of every error raised by the ingestion package."""


class ContractError(IngestionError):
    """Bytes that are not a valid event of the expected contract.

    ``kind`` says which step failed (``decode``: not JSON; ``validation``: JSON that
    breaks the contract; ``schema_version``: a version this code cannot read);
    ``reason`` is the human-readable why, the same text that goes to the DLQ.
    """

    def __init__(self, contract: str, kind: ContractErrorKind, reason: str) -> None:
        self.contract = contract
        self.kind = kind
        self.reason = reason
        super().__init__(f"invalid {contract} event ({kind}): {reason}")


class TransientError(IngestionError):
    """A dependency is down or slow: waiting and retrying will help (the runner retries a
    handler that raises one without limit, and never dead-letters for it)."""


class KafkaUnavailableError(TransientError):
    """The configured Kafka bootstrap servers cannot be reached."""


class DeliveryError(TransientError):
    """The broker did not acknowledge a produced record."""


class WaitTimeoutError(IngestionError, TimeoutError):
    """Something awaited did not happen in time (a TimeoutError too, for callers that
    catch those)."""
