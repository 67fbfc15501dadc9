"""LangGraph graphs (fraud, monitoring, maintenance, chat) and the checkpointer."""
