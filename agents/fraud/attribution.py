"""Per-feature contributions of a tree ensemble, read off each leaf's path.

Every leaf of every tree gets, at load, its contribution per feature: down its path from
the root, the change in the node's value at each split, credited to that split's feature.
A payment's contributions are then the sum of its leaves' rows: one gather, where the
exact per-payment attribution (TreeSHAP) took about a millisecond a payment in
screening's hot path. Deterministic; with the trees' root values, a payment's
contributions add up to its raw score.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def leaf_paths(dump: dict[str, Any], n_features: int) -> tuple[np.ndarray, np.ndarray, float]:
    """From LightGBM's ``dump_model()``: every leaf's contributions per feature (rows of all
    the trees' leaves; a leaf's row adds up to its value less its tree's root value), each
    tree's first row, and the sum of the trees' root values."""
    blocks: list[np.ndarray] = []
    offsets: list[int] = []
    roots = 0.0
    at = 0
    for tree in dump["tree_info"]:
        block = np.zeros((int(tree["num_leaves"]), n_features))
        root = tree["tree_structure"]
        roots += float(_node_value(root))
        stack: list[tuple[dict[str, Any], np.ndarray]] = [(root, np.zeros(n_features))]
        while stack:
            node, path = stack.pop()
            if "split_feature" not in node:  # a leaf (a tree of one leaf has no index)
                block[int(node.get("leaf_index", 0))] = path
                continue
            value = float(node["internal_value"])
            for child in (node["left_child"], node["right_child"]):
                step = path.copy()
                step[int(node["split_feature"])] += float(_node_value(child)) - value
                stack.append((child, step))
        offsets.append(at)
        blocks.append(block)
        at += len(block)
    return np.concatenate(blocks), np.array(offsets, dtype=np.int64), roots


def _node_value(node: dict[str, Any]) -> float:
    return float(node["internal_value"] if "split_feature" in node else node["leaf_value"])
