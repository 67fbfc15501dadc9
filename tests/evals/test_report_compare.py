"""Comparing a run with the saved baseline: which way is better, and what is no change."""

from __future__ import annotations

from evals.compare import compare


def verdicts(figures: dict[str, float], baseline: dict[str, float]) -> dict[str, str]:
    return {c.metric: c.verdict for c in compare(figures, baseline)}


def test_scores_and_rates_are_better_higher_timings_and_costs_lower() -> None:
    baseline = {
        "events.decision_accuracy": 0.9,
        "streams.events_per_s": 10.0,
        "chat.latency_p50_s": 3.0,
        "events.tokens_per_case": 700.0,
        "events.errors": 1.0,
    }
    up = {k: v * 1.5 for k, v in baseline.items()}
    assert verdicts(up, baseline) == {
        "events.decision_accuracy": "better",
        "streams.events_per_s": "better",  # a rate, though it ends in _s
        "chat.latency_p50_s": "worse",
        "events.tokens_per_case": "worse",
        "events.errors": "worse",
    }
    down = {k: v * 0.5 for k, v in baseline.items()}
    assert verdicts(down, baseline) == {
        "events.decision_accuracy": "worse",
        "streams.events_per_s": "worse",
        "chat.latency_p50_s": "better",
        "events.tokens_per_case": "better",
        "events.errors": "better",
    }


def test_what_the_baseline_rounds_away_and_timing_noise_are_no_change() -> None:
    # the baseline keeps 4 decimals: the unrounded figure of the same run is the same
    assert verdicts({"chat.groundedness": 0.214666}, {"chat.groundedness": 0.2147}) == {
        "chat.groundedness": "same"
    }
    assert verdicts({"chat.pass_rate_all": 0.085106}, {"chat.pass_rate_all": 0.0851}) == {
        "chat.pass_rate_all": "same"
    }
    # a real change at the fourth decimal is one
    assert verdicts({"chat.answer": 0.3203}, {"chat.answer": 0.3201}) == {"chat.answer": "better"}
    # timings and rates within 10% are noise; beyond it they count
    noisy = verdicts(
        {"chat.latency_p50_s": 3.2, "streams.events_per_s": 9.5, "streams.latency_s": 50.0},
        {"chat.latency_p50_s": 3.0, "streams.events_per_s": 10.0, "streams.latency_s": 40.0},
    )
    assert noisy == {
        "chat.latency_p50_s": "same",
        "streams.events_per_s": "same",
        "streams.latency_s": "worse",
    }
    # case counts are not compared; a figure missing on either side is not either
    assert verdicts({"chat.cases": 47, "chat.answer": 0.3}, {"chat.cases": 40}) == {}
