"""Errors of the service shell. Messages say what was wrong and what to do."""

from __future__ import annotations


class VigilError(Exception):
    """Base of errors the CLI reports as a message, without a traceback."""


class StackError(VigilError):
    """The embedded stack or a configured server cannot be started or reached."""


class WaitTimeoutError(VigilError, TimeoutError):
    """Something awaited did not happen in time (a TimeoutError too, for callers that
    catch those)."""
