"""An agent's counters and latency histograms (``vigil agents status``, Prometheus)."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))


@dataclass
class Histogram:
    counts: dict[float, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float, times: int = 1) -> None:
        self.n += times
        self.total += seconds * times
        for b in BUCKETS:
            if seconds <= b:
                self.counts[b] += times


@dataclass
class AgentMetrics:
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    screened: int = 0
    escalated: int = 0
    approved: int = 0
    rejected: int = 0
    expired: int = 0
    refused_answers: int = 0
    #: final outcomes of the graph, by the graph's own word ("blocked", "work order raised")
    outcomes: Counter[str] = field(default_factory=Counter)
    screening_latency: Histogram = field(default_factory=Histogram)
    #: one screening batch, from its events to its outputs acknowledged
    batch_latency: Histogram = field(default_factory=Histogram)
    #: (rule, why) -> events a rule could not be applied to (say, no exchange rate)
    not_applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    escalation_latency: Histogram = field(default_factory=Histogram)

    def add(self, **counts: int) -> None:
        with self.lock:
            for k, v in counts.items():
                setattr(self, k, getattr(self, k) + v)

    def outcome(self, name: str) -> None:
        with self.lock:
            self.outcomes[name] += 1

    @property
    def blocked(self) -> int:
        return self.outcomes["blocked"]
