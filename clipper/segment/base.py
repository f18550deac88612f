"""The classifier interface and what every backend shares (products, time-bound claims)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence

from ..config import Category, Config, Cues, load_category, load_cues
from ..errors import ConfigError
from ..types import SentenceList, Segment, Segmentation
from .cues import CueMatcher


@dataclass(frozen=True)
class Item:
    """One sentence to classify; ``passage`` groups consecutive speech."""

    id: str
    text: str
    passage: str = ""


class Classifier(Protocol):
    name: str

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        """One Segment per item, same order. Products and time-bound marks are added after."""
        ...


def make_classifier(backend: str, category: Category, cues: Cues) -> Classifier:
    if backend == "rules":
        from .rules import RulesClassifier

        return RulesClassifier(category, cues)
    raise ConfigError(f"unknown segmentation backend '{backend}'")


def classify_items(items: Sequence[Item], backend: str, category: Category,
                   cues: Cues | None = None) -> list[Segment]:
    cues = cues or load_cues()
    segments = make_classifier(backend, category, cues).classify(items)
    return mark_products_and_claims(items, segments, CueMatcher(cues))


def mark_products_and_claims(items: Sequence[Item], segments: Sequence[Segment],
                             matcher: CueMatcher) -> list[Segment]:
    """Number products (a "next product" phrase starts a new one) and flag time-bound claims."""
    out = []
    product = 1
    for i, (item, seg) in enumerate(zip(items, segments)):
        if i > 0 and matcher.hits("next_product", item.text):
            product += 1
        out.append(replace(seg, product=product, time_bound=bool(matcher.hits("time_bound", item.text))))
    return out


def segment_sentences(sentences: SentenceList, config: Config) -> Segmentation:
    category = load_category(config.segment.category)
    items = [Item(s.id, s.text, str(s.passage)) for s in sentences.sentences]
    segments = classify_items(items, config.segment.backend, category)
    return Segmentation(backend=config.segment.backend, category=category.name, segments=tuple(segments))
