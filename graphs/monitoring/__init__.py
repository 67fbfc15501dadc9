"""The monitoring graph: affected parties, policy retrieval, drafted alert, publish once."""
