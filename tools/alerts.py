"""Alerts to people, on the ``alerts`` topic, once per alert id."""

from __future__ import annotations

from typing import Any

from ingestion.contracts import Alert, derived_id
from tools.once import OnceEmitter


class AlertService:
    def __init__(self, emitter: OnceEmitter) -> None:
        self.emitter = emitter

    def send(self, alert: Alert) -> tuple[Alert, bool]:
        """(the alert that counts, True if this call sent it)."""
        return self.emitter.emit_once("alert", alert.alert_id, alert)

    def notify(self, alert_id: str, **fields: Any) -> tuple[Alert, bool]:
        """Build the alert (event id ``alert-<alert id>``) from its fields and send it once."""
        event_id = derived_id("alert-", alert_id)
        return self.send(Alert(event_id=event_id, alert_id=alert_id, **fields))
