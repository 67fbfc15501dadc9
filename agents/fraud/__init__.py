"""The fraud agent: batched screening, the fraud graph, approvals, exactly-once effects."""
