"""The offline rules backend: cue words and patterns from configs/, no model.

Each sentence gets three scores from its cue hits: promotion (prices, links, coupons, stock),
selling (the category's tag cues, plus generic "describing the product" cues) and chatter
(greetings, asking for follows). Sentences with no cue at all take their label from the
speech around them: a short "so comfortable" between two fabric sentences continues the
selling point, on its own it is chatter.
"""

from __future__ import annotations

from typing import Sequence

from ..config import Category, Cues
from ..types import Label, Segment
from .item import Item
from .cues import CueMatcher

PATTERN_WEIGHT = 2.0   # a price or "link is up" pattern is stronger evidence than a single word
GENERIC_WEIGHT = 0.5   # generic selling cues ("designed", "质感") count less than tag cues
MAX_TAGS = 3


class RulesClassifier:
    name = "rules"

    def __init__(self, category: Category, cues: Cues) -> None:
        self.matcher = CueMatcher(cues, category)

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        first = [self._score(item) for item in items]
        return _fill_from_context(items, first)

    def _score(self, item: Item) -> Segment | None:
        m = self.matcher
        promo_cues = m.hits("promo", item.text)
        promo = sum(PATTERN_WEIGHT if _is_pattern(c) else 1.0 for c in promo_cues)
        tag_hits = m.tag_hits(item.text)
        generic = m.hits("selling", item.text)
        selling = sum(len(v) for v in tag_hits.values()) + GENERIC_WEIGHT * len(generic)
        chatter_cues = m.hits("chatter", item.text)
        chatter = sum(PATTERN_WEIGHT if _is_pattern(c) else 1.0 for c in chatter_cues)
        total = promo + selling + chatter

        if promo > 0 and promo >= selling:
            return Segment(item.id, Label.PROMO, score=round(promo / (total + 1), 3),
                           cues=tuple(promo_cues))
        if selling > 0 and selling >= chatter:
            tags = sorted(tag_hits, key=lambda t: (-len(tag_hits[t]), t))[:MAX_TAGS] or ["other"]
            cues = tuple(c for t in tags for c in tag_hits.get(t, [])) + tuple(generic)
            return Segment(item.id, Label.SELLING_POINT, tags=tuple(tags),
                           score=round(selling / (total + 1), 3), cues=cues)
        if chatter > 0:
            return Segment(item.id, Label.CHATTER, score=round(chatter / (total + 1), 3),
                           cues=tuple(chatter_cues))
        return None


def _is_pattern(cue: str) -> bool:
    return any(ch in cue for ch in "[]\\(")


def _fill_from_context(items: Sequence[Item], first: list[Segment | None]) -> list[Segment]:
    """Sentences without cues continue a selling point they sit inside, else are chatter."""
    out: list[Segment] = []
    for i, (item, seg) in enumerate(zip(items, first)):
        if seg is not None:
            out.append(seg)
            continue
        prev = _neighbour(items, first, i, -1)
        nxt = _neighbour(items, first, i, +1)
        if prev is not None and prev.label is Label.SELLING_POINT and (
                nxt is None or nxt.label is Label.SELLING_POINT):
            out.append(Segment(item.id, Label.SELLING_POINT, tags=prev.tags, score=0.1,
                               cues=("context",)))
        else:
            out.append(Segment(item.id, Label.CHATTER, score=0.0))
    return out


def _neighbour(items: Sequence[Item], first: list[Segment | None], i: int, step: int) -> Segment | None:
    """The nearest classified sentence in the same passage, looking ``step`` ways."""
    j = i + step
    while 0 <= j < len(items) and items[j].passage == items[i].passage:
        if first[j] is not None:
            return first[j]
        j += step
    return None
