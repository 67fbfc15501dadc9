"""The fraud graph: context, assessment, policy gate, human approval, effects."""
