"""Each asset's maintenance history, kept in Redis from ``maintenance.logs``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import redis

from ingestion.contracts import MaintenanceLog
from ingestion.runner import Received

CLOSING_KINDS = {"repair", "replacement"}


class MaintenanceHistory:
    def __init__(self, client: redis.Redis, *, prefix: str = "vigil") -> None:
        self.client = client
        self.prefix = f"{prefix}:maint:history"

    def key(self, asset_id: str) -> str:
        return f"{self.prefix}:{asset_id}"

    def add(self, logs: Sequence[MaintenanceLog]) -> None:
        """Idempotent: a log is stored under its own id (a re-delivery replaces itself)."""
        pipe = self.client.pipeline(transaction=False)
        for log in logs:
            key = self.key(log.asset_id)
            pipe.hset(key, log.log_id, log.model_dump_json())
        pipe.execute()

    def recent(self, asset_id: str, n: int = 10) -> list[MaintenanceLog]:
        """The newest ``n`` jobs on the asset, newest first."""
        raw = self.client.hvals(self.key(asset_id))
        logs = sorted(
            (MaintenanceLog.model_validate_json(r) for r in raw),
            key=lambda log: log.performed_at,
            reverse=True,
        )
        return logs[:n]


def history_ingestor(
    history: MaintenanceHistory, on_repair: Callable[[str], None]
) -> Callable[[Sequence[Received[MaintenanceLog]]], None]:
    """Runner handler: store the logs; a repair or replacement closes the asset's episode."""

    def handle(batch: Sequence[Received[MaintenanceLog]]) -> None:
        logs = [r.event for r in batch]
        history.add(logs)
        for log in logs:
            if log.kind in CLOSING_KINDS:
                on_repair(log.asset_id)

    return handle
