"""Runs: a graph run in a task, its events numbered, kept in Redis, fanned out to clients.

Every event of a run gets the next sequence number, which is its SSE ``id``. Events go to
the clients attached in this process at once, and to a Redis Stream (entry id
``<seq>-0``) in batches, kept ``retention_s`` after the run ends. A client that
reconnects with ``Last-Event-ID: n`` gets every event after ``n``: from this process's
memory while the run lives here, else from the Redis Stream (so any API process can serve
a reconnect, and a finished run can be replayed until it expires).

A thread runs one run at a time (a Redis lock, refused with 409). When the last client of
a run whose ``on_disconnect`` is ``cancel`` goes away, the run is cancelled after
``grace_s`` unless a client comes back: cancelling the task cancels the graph, subgraphs
included.

:class:`RunHub` (``hub.py``) runs them in this process; :class:`RunStore` (``store.py``)
keeps them in Redis; a :class:`Run` and its events are in ``run.py``.
"""

from api.runs.hub import RunHub
from api.runs.run import TERMINAL, EventSource, OnDisconnect, Run, RunEvent, now_iso
from api.runs.store import RunStore

__all__ = [
    "TERMINAL",
    "EventSource",
    "OnDisconnect",
    "Run",
    "RunEvent",
    "RunHub",
    "RunStore",
    "now_iso",
]
