"""Errors the tools raise. Messages are written for whoever acts on them: a model or a person."""

from __future__ import annotations


class ToolError(Exception):
    """Base of every error raised by the tools package."""


class NotApprovedError(ToolError):
    """A block without a valid approval (or auto-policy) for exactly that proposal."""


class ApprovalConflictError(ToolError):
    """A second, different decision for an approval that was already decided."""


class ApprovalMismatchError(ToolError):
    """An answer that does not match the pending request: unknown, stale, altered or replayed."""
