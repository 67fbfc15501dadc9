"""Errors of the service shell. Messages say what was wrong and what to do."""

from __future__ import annotations

from ingestion.errors import WaitTimeoutError

__all__ = ["StackError", "VigilError", "WaitTimeoutError"]


class VigilError(Exception):
    """Base of errors the CLI reports as a message, without a traceback."""


class StackError(VigilError):
    """The embedded stack or a configured server cannot be started or reached."""
