"""A language model's labels weighed with the trained backend's probabilities.

The two are combined as a geometric mean of their label distributions. A model that answered
with a label (generated JSON, a remote server) counts as 80 % sure of it; a scoring model gives
its own distribution; a window where the model failed (rules fallback) is left to the trained
backend alone. Every sentence records who decided: ``embed+<model>`` when both agree, else the
one whose choice won. Products and categories come from the trained backend.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..types import Label, Segment
from .features import RULE_LABELS
from .item import Item

ANSWER_CONFIDENCE = 0.8


def llm_distribution(seg: Segment, probs: np.ndarray | None) -> np.ndarray | None:
    if seg.backend.endswith("fallback"):
        return None
    if probs is not None:
        return probs
    p = np.full(3, (1 - ANSWER_CONFIDENCE) / 2)
    p[RULE_LABELS.index(seg.label)] = ANSWER_CONFIDENCE
    return p


class CombinedClassifier:
    def __init__(self, llm, embed) -> None:
        self.llm, self.embed = llm, embed
        self.name = f"embed+{llm.name}"
        self.product_numbers: list[int] = []
        self.fallbacks: list = []

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        if not items:
            return []
        mine = self.embed.classify(items)
        theirs = self.llm.classify(items)
        self.product_numbers = self.embed.product_numbers
        self.fallbacks = list(getattr(self.llm, "fallbacks", []))
        llm_probs = getattr(self.llm, "probs", None)
        out = []
        for i, (e, m) in enumerate(zip(mine, theirs)):
            p_llm = llm_distribution(m, llm_probs[i] if llm_probs is not None and len(llm_probs) == len(items)
                                     else None)
            if p_llm is None:
                out.append(e)
                continue
            p = np.sqrt(np.clip(self.embed.probs[i], 1e-9, 1) * np.clip(p_llm, 1e-9, 1))
            p /= p.sum()
            label = RULE_LABELS[int(p.argmax())]
            if label is e.label and label is m.label:
                who = self.name
            else:
                who = self.embed.name if label is e.label else m.backend
            tags: tuple[str, ...] = ()
            if label is Label.SELLING_POINT:
                tags = m.tags if m.label is Label.SELLING_POINT and m.tags else self.embed.tags_if_selling[i]
            out.append(replace(e, label=label, tags=tags, score=round(float(p.max()), 3), backend=who))
        return out
