"""The risk model's trees walked by compiled code: LightGBM's own splits, taken from the
model's text, and LightGBM's own rules for them (``tree.h``: a numeric split sends a
value left when it is at most the threshold, a missing one by its default side; a
categorical split left when the category is in its bitset, NaN and negatives right).

In screening (parts of about 60 payments, 2 cores) LightGBM's predict took 9.5 us a
payment: its per-call set-up, its per-row conversion of the inputs, and the GIL, which a
ctypes call lets go: the producer's thread takes it, and screening waits to have it
back. This walk holds the GIL and takes 4.4 us (1.3 in a loop of its own: in screening
the arrays are out of the cache at each call). A model is only walked here
once it scored a probe of hostile rows (each split's threshold and the values either
side of it, NaN, zeros, negatives, huge numbers) exactly as LightGBM does, raw scores and
leaves alike; a model it does not (a layout it does not know, another objective, a
LightGBM whose rules changed) is scored by LightGBM, and says so in the log.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
from numba import njit

log = logging.getLogger(__name__)

#: LightGBM's kZeroThreshold (a float: 1e-35f), for splits where zero means missing
_ZERO = float(np.float32(1e-35))
_INT_LIMIT = 2147483648.0  # a category is a C int: a value past it reads as negative


def _walk(
    x: np.ndarray, feature: np.ndarray, threshold: np.ndarray, kind: np.ndarray,
    left: np.ndarray, right: np.ndarray, cat_start: np.ndarray, cat_len: np.ndarray,
    cats: np.ndarray, roots: np.ndarray, leaf_value: np.ndarray, leaf_base: np.ndarray,
    sigmoid: float, raw: np.ndarray, prob: np.ndarray, leaves: np.ndarray, want_leaves: bool,
) -> None:  # fmt: skip
    """Each row's raw score (the trees' leaf values summed in order, as LightGBM does), its
    probability (LightGBM's sigmoid, with the C library's exp, as LightGBM's) and, when
    asked, its leaf in each tree. A node index below zero is a leaf: ``~node``."""
    for i in range(x.shape[0]):
        s = 0.0
        for t in range(roots.shape[0]):
            node = roots[t]
            while node >= 0:
                v = x[i, feature[node]]
                if abs(v) <= _ZERO:  # LightGBM reads its input so: such a value is a zero
                    v = 0.0
                k = kind[node]
                if k & 1:  # categorical
                    go = False
                    if v > -1.0 and v < _INT_LIMIT:  # NaN, negatives, past an int: right
                        c = int(v)
                        word = c >> 5
                        if word < cat_len[node]:
                            go = (cats[cat_start[node] + word] >> (c & 31)) & 1 == 1
                else:
                    missing = (k >> 2) & 3  # 0 none, 1 zero, 2 NaN
                    if math.isnan(v) and missing != 2:
                        v = 0.0
                    if (missing == 1 and v >= -_ZERO and v <= _ZERO) or (
                        missing == 2 and math.isnan(v)
                    ):
                        go = (k & 2) != 0  # the default side
                    else:
                        go = v <= threshold[node]
                node = left[node] if go else right[node]
            s += leaf_value[~node]
            if want_leaves:
                leaves[i, t] = ~node - leaf_base[t]
        raw[i] = s
        prob[i] = 1.0 / (1.0 + math.exp(-sigmoid * s))


def _jit(fn: Any) -> Any:
    """``fn`` compiled, holding the GIL (the module's docstring), and cached on disk where
    numba finds a folder it may write (beside the module, or the user's cache): a
    read-only install without a writable home compiles at each start instead."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        log.warning("the risk model's compiled trees are not cached on disk (%s): "
                    "compiled again at each start (about half a second)", exc)  # fmt: skip
        return njit(fn)


_compiled = _jit(_walk)


@dataclass(frozen=True)
class Trees:
    """A binary model's trees as flat arrays (every tree's nodes and leaves in one)."""

    feature: np.ndarray
    threshold: np.ndarray
    kind: np.ndarray
    left: np.ndarray
    right: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    cats: np.ndarray
    roots: np.ndarray
    leaf_value: np.ndarray
    leaf_base: np.ndarray
    sigmoid: float

    def walk(self, x: np.ndarray, leaves: bool = False) -> tuple[np.ndarray, ...]:
        """The rows' raw scores, probabilities and leaves (rows x trees, when asked)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        raw, prob = np.empty(len(x)), np.empty(len(x))
        got = np.empty((len(x), len(self.roots)) if leaves else (0, 0), dtype=np.int32)
        _compiled(x, self.feature, self.threshold, self.kind, self.left, self.right,
                  self.cat_start, self.cat_len, self.cats, self.roots, self.leaf_value,
                  self.leaf_base, self.sigmoid, raw, prob, got, leaves)  # fmt: skip
        return raw, prob, got

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The fraud probability of each row (LightGBM's ``predict``)."""
        return self.walk(x)[1]

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """Each row's leaf in each tree (LightGBM's ``pred_leaf``)."""
        return self.walk(x, leaves=True)[2]


def compiled(booster: lgb.Booster, n_features: int) -> Trees | None:
    """The booster's trees, compiled, once they score the probe as LightGBM does (None:
    LightGBM scores this model; the log says why)."""
    try:
        trees = _parse(booster.model_to_string())
    except (ValueError, KeyError, IndexError) as exc:
        log.warning("risk model scored by LightGBM: its layout is not one this release "
                    "compiles (%s)", exc)  # fmt: skip
        return None
    probe = _probe(trees, n_features)
    got = trees.walk(probe, leaves=True)
    want = [np.asarray(booster.predict(probe, num_threads=1, **kw))
            for kw in ({"raw_score": True}, {}, {"pred_leaf": True})]  # fmt: skip
    if not all(np.array_equal(a, b) for a, b in zip(got, want, strict=True)):
        wrong = (got[0] != want[0]) | (got[1] != want[1]) | (got[2] != want[2]).any(axis=1)
        log.warning("risk model scored by LightGBM: the compiled trees disagree with it on "
                    "%d of %d probe rows", int(wrong.sum()), len(probe))  # fmt: skip
        return None
    return trees


def _sections(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The model text's header and each tree's fields (``key=value`` lines)."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    at = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            at = {}
            trees.append(at)
        key, eq, value = line.partition("=")
        if eq:
            at[key] = value
    return header, trees


def _numbers(tree: dict[str, str], key: str, kind: Any) -> np.ndarray:
    return np.array(tree[key].split(), dtype=kind) if tree.get(key) else np.empty(0, kind)


def _parse(text: str) -> Trees:
    header, trees = _sections(text)
    objective = header["objective"].split()
    if objective[0] != "binary" or header.get("num_tree_per_iteration", "1") != "1":
        raise ValueError(f"objective {header['objective']!r}")
    sigmoid = 1.0
    for part in objective[1:]:
        if part.startswith("sigmoid:"):
            sigmoid = float(part.partition(":")[2])
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "feature", "threshold", "kind", "left", "right", "cat_start", "cat_len", "cats",
        "leaf_value")}  # fmt: skip
    roots, leaf_base = [], []
    nodes = leaves = cats = 0
    for tree in trees:
        if tree.get("is_linear", "0") != "0":
            raise ValueError("linear trees")
        n_leaves = int(tree["num_leaves"])
        values = _numbers(tree, "leaf_value", np.float64)
        if len(values) != n_leaves:
            raise ValueError("a tree's leaves do not match its count")
        leaf_base.append(leaves)
        cols["leaf_value"].append(values)
        if n_leaves == 1:  # a tree with no split: its one leaf
            roots.append(~leaves)
            leaves += 1
            continue
        kind = _numbers(tree, "decision_type", np.int64)
        left = _numbers(tree, "left_child", np.int64)
        right = _numbers(tree, "right_child", np.int64)
        threshold = _numbers(tree, "threshold", np.float64)
        bounds = _numbers(tree, "cat_boundaries", np.int64)
        start, length = np.zeros(len(kind), np.int64), np.zeros(len(kind), np.int64)
        for j in np.flatnonzero(kind & 1):  # categorical: threshold = its bitset's index
            c = int(threshold[j])
            start[j], length[j] = cats + bounds[c], bounds[c + 1] - bounds[c]
        cols["cats"].append(_numbers(tree, "cat_threshold", np.uint32))
        cats += len(cols["cats"][-1])
        cols["feature"].append(_numbers(tree, "split_feature", np.int64))
        cols["threshold"].append(threshold)
        cols["kind"].append(kind)
        cols["cat_start"].append(start)
        cols["cat_len"].append(length)
        for name, child in (("left", left), ("right", right)):  # to the flat arrays' indices
            cols[name].append(np.where(child >= 0, child + nodes, ~(~child + leaves)))
        roots.append(nodes)
        nodes += n_leaves - 1
        leaves += n_leaves
    if not trees:
        raise ValueError("no trees")

    def flat(name: str, dtype: Any) -> np.ndarray:
        got = cols[name]
        return np.concatenate(got).astype(dtype) if got else np.empty(0, dtype)

    return Trees(
        feature=flat("feature", np.int64), threshold=flat("threshold", np.float64),
        kind=flat("kind", np.int64), left=flat("left", np.int64), right=flat("right", np.int64),
        cat_start=flat("cat_start", np.int64), cat_len=flat("cat_len", np.int64),
        cats=flat("cats", np.uint32), roots=np.array(roots, np.int64),
        leaf_value=flat("leaf_value", np.float64), leaf_base=np.array(leaf_base, np.int64),
        sigmoid=sigmoid,
    )  # fmt: skip


def _probe(trees: Trees, n_features: int, rows: int = 512, seed: int = 0) -> np.ndarray:
    """Rows that take every side of every split: per feature, its thresholds and the
    doubles either side of each, its categories and their neighbours, and NaN, zeros,
    negatives and huge values, mixed at random."""
    rng = np.random.default_rng(seed)
    hostile = [np.nan, 0.0, -0.0, -0.5, -1.0, 0.5, 1e-40, -1e-40, 1e300, -1e300, 3e9, -3e9]
    out = np.empty((rows, n_features))
    for f in range(n_features):
        at = trees.feature == f
        cut = trees.threshold[at & ((trees.kind & 1) == 0)]
        numeric = np.concatenate([cut, np.nextafter(cut, np.inf), np.nextafter(cut, -np.inf)])
        category = np.arange(32 * int(trees.cat_len[at].max(initial=0)) + 2, dtype=np.float64)
        pool = np.concatenate([numeric, category, hostile])
        out[:, f] = rng.choice(pool, size=rows)
    return out
