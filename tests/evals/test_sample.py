"""The stratified sample the test suite's gate runs: every category, decision and kind of
check of the full set, every gated figure measured, the same cases every time, and the
golden stream's cards kept whole."""

from __future__ import annotations

from evals.cases import load_chat_cases, load_event_cases
from evals.gate import Thresholds
from evals.runner import Selection
from evals.sample import NEEDS, coverage, sample_stream
from evals.streams import GoldenStream, StreamRecord, load_stream
from vigil.settings import Stream

SAMPLE = Selection(sample=True)


def test_the_sample_holds_every_category_decision_and_kind_of_check() -> None:
    chat, events = SAMPLE.chat_cases(), SAMPLE.event_cases()
    full_chat, full_events = load_chat_cases(), load_event_cases()
    assert {c.category for c in chat} == {c.category for c in full_chat}
    assert {c.category for c in events} == {c.category for c in full_events}
    assert {c.expect.decision for c in events} == {c.expect.decision for c in full_events}
    assert {c.analyst for c in events} == {"approve", "reject", "never"}
    full = coverage(full_chat, full_events, [load_stream("golden")])
    assert coverage(chat, events, [SAMPLE.stream("golden")]) == full
    # and it is a sample: a fraction of the cases, the same ones every time
    assert len(chat) <= len(full_chat) // 4
    assert len(events) <= len(full_events) // 3
    assert [c.id for c in Selection(sample=True).event_cases()] == [c.id for c in events]


def test_the_sample_measures_every_gated_figure() -> None:
    """A gated figure over no case is missing, or a vacuous 1.0 (no block, no false
    block): the sample must hold what each one needs to measure something."""
    held = coverage(SAMPLE.chat_cases(), SAMPLE.event_cases(), [SAMPLE.stream("golden")])
    gated = Thresholds.load().gated
    assert set(gated) <= set(NEEDS), "teach evals/sample.py what a new gated figure needs"
    for metric in gated:
        assert NEEDS[metric] <= held, (metric, sorted(NEEDS[metric] - held))
    # and the needs tell: without its block cases the sample would not measure recall
    unblocked = [c for c in SAMPLE.event_cases() if c.expect.decision != "block"]
    assert not NEEDS["events.block_recall"] <= coverage([], unblocked, [])


def test_a_sampled_stream_keeps_its_context_and_a_prefix_of_each_card() -> None:
    """A prefix of a card's history is screened as it was in the whole stream: the sample
    keeps each flagged card up to its first transaction of each label, a few genuine
    cards whole, and all the context."""
    full = load_stream("golden")
    sample = sample_stream(full, genuine_cards=3)

    def by_card(stream: GoldenStream) -> dict[str, list[StreamRecord]]:
        out: dict[str, list[StreamRecord]] = {}
        for r in stream.of(Stream.TRANSACTIONS):
            if r.value is not None:
                out.setdefault(r.value["card_id"], []).append(r)
        return out

    kept, every = by_card(sample), by_card(full)
    assert len(sample.records) < len(full.records) * 0.6
    genuine = 0
    for card, history in kept.items():
        assert history == every[card][: len(history)], card
        labels = {r.label["decision"] for r in every[card]}
        assert {r.label["decision"] for r in history} == labels
        genuine += labels == {"allow"}
        if labels == {"allow"}:
            assert history == every[card]
        else:  # it ends at the first transaction of a label not seen before it
            assert history[-1].label["decision"] not in {r.label["decision"] for r in history[:-1]}
    assert genuine == 3
    flagged = {card for card, h in every.items() if {r.label["decision"] for r in h} != {"allow"}}
    assert flagged < set(kept)
    # card testing: the four that pass and the fifth, blocked; not the seven after it
    decisions = [r.label["decision"] for h in kept.values() for r in h]
    assert decisions.count("block") == 2  # london -> paris, the fifth small payment
    assert [r.label["decision"] for r in full.of(Stream.TRANSACTIONS) if r.value].count(
        "block"
    ) == 9
    for stream in (Stream.CUSTOMER_CHANGES, Stream.SENSOR_READINGS, Stream.MONITORING_SIGNALS):
        assert sample.of(stream) == full.of(stream)
    raw = [r.raw for r in full.of(Stream.TRANSACTIONS) if r.raw is not None]
    assert [r.raw for r in sample.of(Stream.TRANSACTIONS) if r.raw is not None] == raw
    assert sample.expect == full.expect
