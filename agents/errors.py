"""Errors of the agents package. Messages say what was wrong and what to do."""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agents package raises."""


class UnknownAgentError(AgentError, LookupError):
    """An agent name the registry does not know, or a binding that disagrees with it."""
