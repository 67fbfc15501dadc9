"""FastAPI app: SSE chat, approvals, threads/runs, health, metrics, console."""
