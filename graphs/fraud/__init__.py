"""The fraud graph: context, assessment, policy gate, human approval, effects."""

from graphs.fraud.context import FraudContext
from graphs.fraud.graph import build_graph
from graphs.fraud.nodes import APPROVAL_PREFIX
from graphs.fraud.state import FraudState

__all__ = ["APPROVAL_PREFIX", "FraudContext", "FraudState", "build_graph"]
