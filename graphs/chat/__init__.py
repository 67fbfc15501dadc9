"""The customer-support chat graph: the customer's own profile, policy passages, a streamed
answer that cites them. No path to any action tool (DESIGN guarantee 3)."""

from graphs.chat.context import ChatContext
from graphs.chat.graph import build_graph

__all__ = ["ChatContext", "build_graph"]
