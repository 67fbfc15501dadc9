"""FastAPI app: SSE chat, approvals, threads/runs, health, metrics, console."""

from api.app import create_app
from api.resources import ApiDeps

__all__ = ["ApiDeps", "create_app"]
