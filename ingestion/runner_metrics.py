"""What a consumer runner counts (``ConsumerRunner.metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunnerMetrics:
    consumed: int = 0
    processed: int = 0
    dead_lettered: int = 0
    batches: int = 0
    commits: int = 0
    #: commits the broker refused (a rebalance, or a passing error: sent again with the next)
    commit_failures: int = 0
    handler_retries: int = 0
    #: records dead-lettered because the handler failed on them alone
    handler_failures: int = 0
    #: invalid records skipped because another group dead-letters them
    left_invalid: int = 0
    #: batches that failed outside the handler and were read again
    crashes: int = 0
    lag: dict[int, int] = field(default_factory=dict)
    #: monotonic clock of the first records polled and of the last commit (throughput)
    first_records_at: float | None = None
    last_commit_at: float | None = None
    #: the broker timestamp (ms) of the oldest record in hand (polled, not yet committed)
    oldest_in_hand_ms: int | None = None

    @property
    def finished(self) -> int:
        """Records done with: processed, dead-lettered, or left to the group that does."""
        return self.processed + self.dead_lettered + self.left_invalid

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    def oldest_age_s(self, now_ms: float) -> float:
        """How long the oldest record in hand has waited since it was produced (0: none)."""
        oldest = self.oldest_in_hand_ms
        return 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)
