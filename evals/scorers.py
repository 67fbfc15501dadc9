"""Scorers: plain functions over what a case expected and what the run did.

Deterministic first. Each returns a :class:`Score` (a value in [0, 1], passed or not, and
a note saying why) so a report can show the reason next to the figure. Which scores are
*model-independent* (gated) and which depend on the model (reported) is decided by the
runner that calls them, not here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evals.cases import Match, Phrase


@dataclass(frozen=True)
class Score:
    value: float
    passed: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"value": round(self.value, 4), "passed": self.passed, "note": self.note}


def _score(ok: bool, note: str = "") -> Score:
    return Score(1.0 if ok else 0.0, ok, note)


# -- trajectories (after agentevals' trajectory match modes) --------------------------------


def trajectory_match(
    actual: Sequence[str], expected: Sequence[str], mode: Match, forbidden: Iterable[str] = ()
) -> Score:
    """Compare the tools called with the reference.

    ``strict``: the same calls in the same order; ``unordered``: the same calls, any order
    (counts matter); ``subset``: nothing called beyond the reference; ``superset``: at
    least the reference was called. A forbidden tool fails every mode.
    """
    banned = sorted(set(actual) & set(forbidden))
    if banned:
        return _score(False, f"called forbidden {', '.join(banned)}")
    got, want = Counter(actual), Counter(expected)
    if mode == "strict":
        ok = list(actual) == list(expected)
    elif mode == "unordered":
        ok = got == want
    elif mode == "subset":
        ok = not (got - want)
    elif mode == "superset":
        ok = not (want - got)
    else:  # pragma: no cover - the case schema admits only the four
        raise ValueError(f"unknown match mode {mode!r}")
    if ok:
        return _score(True)
    missing, extra = sorted((want - got).elements()), sorted((got - want).elements())
    parts = [f"{mode}: called {list(actual)}"]
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"extra {extra}")
    return _score(False, "; ".join(parts))


# -- retrieval --------------------------------------------------------------------------------


def recall_at_k(retrieved: Sequence[str], relevant: Iterable[str], k: int) -> Score:
    """Share of the relevant documents among the first ``k`` retrieved (1.0 if none given)."""
    want = set(relevant)
    if not want:
        return Score(1.0, True, "no relevant documents named")
    top = set(retrieved[:k])
    found = want & top
    value = len(found) / len(want)
    missing = sorted(want - top)
    return Score(value, value == 1.0, f"missing {missing} in top {k}" if missing else "")


# -- content ------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def includes(text: str, phrases: Sequence[Phrase]) -> Score:
    """Every phrase (or one of its alternatives) appears in the text, case-insensitively."""
    if not phrases:
        return Score(1.0, True)
    body = _norm(text)
    missing = []
    for p in phrases:
        options = [p] if isinstance(p, str) else p
        if not any(_norm(o) in body for o in options):
            missing.append(" | ".join(options))
    value = 1 - len(missing) / len(phrases)
    return Score(value, not missing, f"missing {missing}" if missing else "")


def excludes(text: str, phrases: Sequence[str]) -> Score:
    """None of the phrases appears in the text."""
    body = _norm(text)
    found = [p for p in phrases if _norm(p) in body]
    return _score(not found, f"contains {found}" if found else "")


def citations(cited: Iterable[str], expected: Iterable[str]) -> Score:
    """The answer cites (by number) at least the expected documents."""
    want, got = set(expected), set(cited)
    if not want:
        return Score(1.0, True)
    missing = sorted(want - got)
    return Score(
        len(want & got) / len(want), not missing, f"not cited {missing}" if missing else ""
    )


_WORD = re.compile(r"[a-z0-9%]+(?:[.,][0-9]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?%?")
#: words that carry no claim of their own
_STOPWORDS = (
    "a an and are as at be by can do does for from has have i if in is it its of on or our "
    "so that the their them there these they this to was we were what when which who will "
    "with you your yes no not but also any may might would could should please thank thanks "
    "here about more than then into out up"
)
_STOP = frozenset(_STOPWORDS.split())
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 2}


def groundedness(answer: str, sources: Sequence[str], threshold: float = 0.5) -> Score:
    """Share of the answer's sentences supported by the sources it rests on.

    A sentence is supported when at least ``threshold`` of its content words occur in the
    sources and every number in it (amounts, percentages, months) does too. Sentences
    with fewer than three content words (greetings, "[1]") are not judged.
    """
    corpus = " ".join(sources).lower()
    vocabulary = _content_words(corpus)
    numbers = set(_NUMBER.findall(corpus))
    judged = supported = 0
    unsupported: list[str] = []
    for sentence in _SENTENCE.split(answer.strip()):
        words = _content_words(re.sub(r"\[\d{1,2}\]", " ", sentence))
        if len(words) < 3:
            continue
        judged += 1
        overlap = len(words & vocabulary) / len(words)
        stray = [n for n in _NUMBER.findall(sentence) if n not in numbers and len(n) > 1]
        if overlap >= threshold and not stray:
            supported += 1
        elif len(unsupported) < 3:
            unsupported.append(sentence[:80])
    if judged == 0:
        return Score(0.0, False, "no sentence to judge")
    value = supported / judged
    return Score(value, value >= 0.8, f"unsupported: {unsupported}" if unsupported else "")


# -- decisions ------------------------------------------------------------------------------------


def confusion(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """expected -> predicted -> count."""
    out: dict[str, dict[str, int]] = {}
    for want, got in pairs:
        row = out.setdefault(want, {})
        row[got] = row.get(got, 0) + 1
    return out


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    tp: int
    fp: int
    fn: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


def precision_recall(pairs: Iterable[tuple[str, str]], positive: str) -> PrecisionRecall:
    """Of one label (e.g. ``block``): precision and recall. No prediction and nothing to
    find count as perfect (1.0), so an empty class never fails a gate by itself."""
    tp = fp = fn = 0
    for want, got in pairs:
        if got == positive and want == positive:
            tp += 1
        elif got == positive:
            fp += 1
        elif want == positive:
            fn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return PrecisionRecall(precision, recall, tp, fp, fn)


def accuracy(pairs: Iterable[tuple[str, str]]) -> float:
    items = list(pairs)
    return sum(w == g for w, g in items) / len(items) if items else 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def rate(flags: Iterable[bool]) -> float:
    items = list(flags)
    return sum(items) / len(items) if items else 1.0


def mean(values: Iterable[float]) -> float:
    items = [v for v in values if not math.isnan(v)]
    return sum(items) / len(items) if items else math.nan


def by_category(rows: Iterable[Mapping[str, Any]], key: str = "category") -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(str(row[key]), []).append(row)
    return out
