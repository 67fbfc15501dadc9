"""Errors of the graphs package."""

from __future__ import annotations

from ingestion.errors import TransientError


class GraphError(Exception):
    """Base of errors raised by Vigil's graphs and their plumbing."""


class CheckpointerConfigError(GraphError):
    """The configured checkpointer cannot be built from the settings."""


class ModelUnavailableError(GraphError, TransientError):
    """No model of the chain can be reached: the run waits for one to come back (its
    runner retries the event without limit) rather than deciding without it."""
