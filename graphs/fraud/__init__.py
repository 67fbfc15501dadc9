"""The fraud graph: context, assessment, policy gate, human approval, effects."""

from graphs.fraud.context import FraudContext
from graphs.fraud.graph import build_graph
from graphs.fraud.nodes import APPROVAL_PREFIX, policy_vector
from graphs.fraud.state import FraudState

__all__ = ["APPROVAL_PREFIX", "FraudContext", "FraudState", "build_graph", "policy_vector"]
