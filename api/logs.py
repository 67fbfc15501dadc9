"""Structured JSON logs, one object a line, carrying the request and run ids."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("vigil_request_id", default=None)
run_id_var: ContextVar[str | None] = ContextVar("vigil_run_id", default=None)

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


_base_factory = logging.getLogRecordFactory()


def _stamped(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Every record carries the ids of the request and run it was logged in."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    record.run_id = run_id_var.get()
    return record


if getattr(logging.getLogRecordFactory(), "__name__", "") != "_stamped":
    logging.setLogRecordFactory(_stamped)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(level: str = "INFO") -> None:
    """JSON lines on stderr for Vigil's and uvicorn's loggers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("vigil", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs requests
