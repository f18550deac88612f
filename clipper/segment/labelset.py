"""The label vocabulary of real-speech data; agreement, folds and scores (pure)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Sequence

import numpy as np

LABELS = ("SELLING_POINT", "PROMO", "CHATTER")
TAGS = ("fabric", "material", "drape", "skin_feel", "fit", "size", "color", "craft", "function",
        "ingredient", "scenario", "other")
CATEGORIES = ("apparel", "beauty", "electronics", "food", "health")


def kappa(first: Sequence[str], second: Sequence[str]) -> float:
    """Cohen's kappa: agreement beyond what two labellers with these label rates reach by chance."""
    n = len(first)
    if n == 0 or n != len(second):
        raise ValueError("kappa needs two equally long, non-empty label lists")
    observed = sum(a == b for a, b in zip(first, second)) / n
    ca, cb = Counter(first), Counter(second)
    expected = sum(ca[k] * cb[k] for k in ca.keys() | cb.keys()) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def grouped_folds(keys: Sequence[str], k: int, seed: int = 0) -> list[np.ndarray]:
    """k test-index arrays; every key's rows fall in one fold (keys shuffled, then dealt)."""
    uniq = sorted(set(keys))
    random.Random(seed).shuffle(uniq)
    fold_of = {key: n % k for n, key in enumerate(uniq)}
    return [np.array([i for i, key in enumerate(keys) if fold_of[key] == f]) for f in range(k)]


def prf(gold: Sequence[bool], pred: Sequence[bool]) -> dict:
    tp = int(sum(bool(g and p) for g, p in zip(gold, pred)))
    fp = int(sum(bool(p and not g) for g, p in zip(gold, pred)))
    fn = int(sum(bool(g and not p) for g, p in zip(gold, pred)))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0, "switches": tp + fn}
