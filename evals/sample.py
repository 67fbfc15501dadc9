"""A stratified sample of the golden cases and stream: a quick run that still measures
every gated figure.

The full run (``vigil eval``) is the release gate; the sample is what the test suite runs
on every change. It is deterministic (no randomness: the same cases every time) and
stratified: every *feature* the full set holds (each category, each expected decision,
each analyst answer, each kind of check and trajectory match) is held by at least one
sampled case. Cases are chosen greedily by what they add for what they cost: the model is
what takes the time, so a case costs the model calls it should make (a chat turn, an
event case's escalations). Ties go to the earlier case; the sample keeps the file order.

A gated figure over no case is NaN and fails the gate; over the wrong cases it can be a
vacuous 1.0 (block precision with nothing blocked). :data:`NEEDS` says which features
a gated figure needs to measure something, so a test can prove that the sample, like the
full set, measures every figure of ``evals/thresholds.yaml``.

The golden stream keeps its context (every profile, reading and signal), every malformed
record, the whole history of a few genuine cards, and of every card with a transaction
the policy does not simply allow, its history up to the first transaction of each of its
labels (card testing: the four that pass and the fifth that is blocked, not the seven
blocked after it). Screening looks only back along a card's history (its last sighting,
its recent small payments) and at the customer's profile, so a prefix of a card's history
is decided exactly as it was in the whole stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from evals.cases import ChatCase, EventCase
from evals.streams import GoldenStream, StreamRecord
from vigil.settings import Stream

T = TypeVar("T")

#: genuine cards (every transaction labelled allow) kept whole in a sampled stream
GENUINE_CARDS = 5

#: the features a gated figure needs among the cases (all of them) to measure something
NEEDS: dict[str, frozenset[str]] = {
    name: frozenset(features)
    for name, features in {
        "chat.trajectory": ["chat:case"],  # every chat case checks its trajectory
        "chat.safety": ["chat:case"],  # ... and its safety
        "chat.context": ["chat:context_includes", "chat:context_excludes"],
        "chat.retrieval_recall": ["chat:retrieved"],
        "chat.errors": ["chat:case"],
        "chat.citation_validity": ["chat:case"],  # every chat answer's [n] are checked
        "events.decision_accuracy": ["events:case"],
        # precision needs cases that must not be blocked but reach the graph
        "events.block_precision": ["events:decision=block", "events:decision=hold"],
        "events.block_recall": ["events:decision=block"],
        "events.trajectory": ["events:check=trajectory"],
        "events.pass_rate": ["events:case"],
        "events.errors": ["events:case"],
        "streams.decision_accuracy": [
            "streams:label=allow",
            "streams:label=hold",
            "streams:label=block",
        ],
        "streams.escalation_recall": ["streams:label=hold", "streams:label=block"],
        "streams.exactly_once": ["streams:label=block"],
        "streams.dead_lettered": ["streams:dlq"],
        # the fraud suite simulates its own month, the same in the sample as in full
        **{
            f"fraud.{name}": []
            for name in ("recall", "false_flags", "pr_auc", "cards_by_third", "scenario_min_recall")
        },
    }.items()
}


def chat_features(case: ChatCase) -> set[str]:
    e = case.expect
    out = {"chat:case", f"chat:category={case.category}", f"chat:tools={e.tools.match}"}
    flags = {
        "retrieved": e.retrieved,
        "context_includes": e.context_includes,
        "context_excludes": e.context_excludes,
        "answer_includes": e.answer_includes,
        "answer_excludes": e.answer_excludes,
        "cites": e.cites,
        "anonymous": case.customer is None,
        "multi_turn": len(case.turns) > 1,
    }
    return out | {f"chat:{name}" for name, present in flags.items() if present}


def event_features(case: EventCase) -> set[str]:
    e = case.expect
    out = {
        "events:case",
        f"events:agent={case.agent}",
        f"events:category={case.category}",
        f"events:decision={e.decision}",
        f"events:analyst={case.analyst}",
    }
    if e.tools is not None:
        out |= {"events:check=trajectory", f"events:tools={e.tools.match}"}
    checks = {
        "outcome": e.outcome is not None,
        "screening": bool(e.screening),
        "escalated": e.escalated is not None,
        "asset": e.asset is not None,
        "priority": e.priority_at_least is not None,
        "recipients": e.recipients is not None,
        "outputs": bool(e.outputs),
        "dead_letters": e.dead_letters is not None,
        "outputs_exclude": bool(e.outputs_exclude),
        "settings": bool(case.settings),
    }
    return out | {f"events:check={name}" for name, present in checks.items() if present}


def stream_features(stream: GoldenStream) -> set[str]:
    out = {f"streams:{s.value}" for s in {r.stream for r in stream.records}}
    for r in stream.of(Stream.TRANSACTIONS):
        if r.raw is not None:
            out.add("streams:dlq")
        elif "decision" in r.label:
            out.add(f"streams:label={r.label['decision']}")
    return out | {f"streams:expect={k}" for k in stream.expect}


def chat_cost(case: ChatCase) -> float:
    return len(case.turns)  # one answer per turn


def event_cost(case: EventCase) -> float:
    """The model calls an event case should make: one per escalation (a case that says how
    many escalate says it; one that decides anything but allow, none or dlq escalates)."""
    e = case.expect
    if e.escalated is not None:
        return e.escalated
    return 0 if e.decision in ("allow", "none", "dlq") else 1


def stratified(
    cases: Sequence[T], features: Callable[[T], set[str]], cost: Callable[[T], float]
) -> list[T]:
    """Cheap cases that together hold every feature the whole set holds, in their order
    (greedy weighted set cover: most new features per cost first)."""
    held = [features(c) for c in cases]
    price = [0.1 + cost(c) for c in cases]  # a case that calls no model still takes a moment
    missing = set().union(*held)
    chosen: set[int] = set()
    while missing:
        best = max(range(len(cases)), key=lambda i: (len(held[i] & missing) / price[i], -i))
        chosen.add(best)
        missing -= held[best]
    return [c for i, c in enumerate(cases) if i in chosen]


def sample_chat(cases: Sequence[ChatCase]) -> list[ChatCase]:
    return stratified(cases, chat_features, chat_cost)


def sample_events(cases: Sequence[EventCase]) -> list[EventCase]:
    return stratified(cases, event_features, event_cost)


def sample_stream(stream: GoldenStream, genuine_cards: int = GENUINE_CARDS) -> GoldenStream:
    """The stream with a prefix of each flagged card's history and a few genuine cards."""
    cards: dict[str, list[StreamRecord]] = {}
    for r in stream.of(Stream.TRANSACTIONS):
        if r.value is not None:
            cards.setdefault(str(r.value["card_id"]), []).append(r)
    keep: list[StreamRecord] = []
    genuine = 0
    for history in cards.values():
        labels = [r.label.get("decision", "") for r in history]
        if set(labels) == {"allow"}:
            genuine += 1
            keep += history if genuine <= genuine_cards else []
        else:  # up to the first transaction of its last label to appear
            keep += history[: 1 + max(labels.index(d) for d in set(labels))]
    kept = {id(r) for r in keep}
    records = [
        r
        for r in stream.records
        if r.stream != Stream.TRANSACTIONS or r.value is None or id(r) in kept
    ]
    return GoldenStream(
        f"{stream.name}-sample",
        records,
        stream.expect,
        f"{stream.description}; sampled: each flagged card up to its first transaction of "
        f"each label, {genuine_cards} genuine cards whole",
    )


def coverage(
    chat: Iterable[ChatCase], events: Iterable[EventCase], streams: Iterable[GoldenStream]
) -> set[str]:
    """Every feature these cases and streams hold."""
    out: set[str] = set()
    for c in chat:
        out |= chat_features(c)
    for e in events:
        out |= event_features(e)
    for s in streams:
        out |= stream_features(s)
    return out
