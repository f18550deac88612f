"""The label vocabulary of real-speech data, and agreement between two labelling passes."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

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
