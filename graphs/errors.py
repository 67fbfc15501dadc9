"""Errors of the graphs package."""

from __future__ import annotations


class GraphError(Exception):
    """Base of errors raised by Vigil's graphs and their plumbing."""


class CheckpointerConfigError(GraphError):
    """The configured checkpointer cannot be built from the settings."""
