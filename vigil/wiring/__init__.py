"""Clients, stores, models and agents built from settings, handed down to the layers below."""

from __future__ import annotations

from vigil.wiring.clients import redis_client, retriever, tool_context

__all__ = ["redis_client", "retriever", "tool_context"]
