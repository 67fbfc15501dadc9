"""Vigil: a LangGraph agentic backend for event streams."""
