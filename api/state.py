"""The app's state: what every route reaches through ``Vigil`` (``api.deps``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from api.approvals import ApprovalFeed
from api.auth import Authenticator
from api.graph_runs import ChatGraphs
from api.metrics import ApiMetrics
from api.resources import ApiDeps
from api.runs import RunHub
from api.threads import ThreadStore
from vigil.settings import Settings


@dataclass
class AppState:
    settings: Settings
    deps: ApiDeps
    auth: Authenticator
    metrics: ApiMetrics
    hub: RunHub
    threads: ThreadStore
    graphs: ChatGraphs
    feed: ApprovalFeed
    started: float = field(default_factory=time.time)
    last_ready: dict[str, Any] | None = None
    #: the agents' latest report (``/ops/agents``): when it was asked for, and its task
    ops_report: tuple[float, asyncio.Future[Any]] | None = None
