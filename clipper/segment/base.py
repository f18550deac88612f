"""The classifier interface and what every backend shares (products, time-bound claims)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol, Sequence

from ..config import (Category, Cues, OpenAIConfig, SegmentConfig, TransformersConfig, available_categories,
                      load_category, load_cues)
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


@lru_cache(maxsize=2)
def _transformers_chat(cfg: TransformersConfig):
    from .local_model import TransformersChat

    return TransformersChat(cfg)  # loading takes seconds: keep it for the next stream


def _openai_chat(cfg: OpenAIConfig):
    from .remote_model import OpenAIChat

    return OpenAIChat(cfg)


def make_classifier(cfg: SegmentConfig, category: Category, cues: Cues) -> Classifier:
    if cfg.backend == "rules":
        from .rules import RulesClassifier

        return RulesClassifier(category, cues)
    if cfg.backend in ("transformers", "openai"):
        from ..transcribe.models import cache_dir
        from .llm import LLMClassifier

        chat = _transformers_chat(cfg.transformers) if cfg.backend == "transformers" else _openai_chat(cfg.openai)
        max_tokens = cfg.transformers.max_new_tokens if cfg.backend == "transformers" else 0
        return LLMClassifier(chat, category, cues, cfg.llm, cache_dir() / "llm-replies", max_tokens)
    raise ConfigError(f"unknown segmentation backend '{cfg.backend}'")


def classify_items(items: Sequence[Item], cfg: SegmentConfig, category: Category,
                   cues: Cues | None = None) -> tuple[list[Segment], list[dict]]:
    """(segments, fallbacks): label, tag and number the products of ``items``."""
    cues = cues or load_cues()
    classifier = make_classifier(cfg, category, cues)
    segments = classifier.classify(items)
    fallbacks = [f.__dict__ for f in getattr(classifier, "fallbacks", [])]
    return mark_products_and_claims(items, segments, CueMatcher(cues)), fallbacks


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


def guess_category(texts: Sequence[str], cues: Cues | None = None) -> str:
    """The category whose tag cues the host uses most (per cue word, so big lists do not win)."""
    best, best_score = "apparel", -1.0
    for name in available_categories():
        category = load_category(name)
        matcher = CueMatcher(cues or load_cues(), category)
        hits = sum(len(v) for text in texts for v in matcher.tag_hits(text).values())
        n_cues = sum(len(spec.zh) + len(spec.en) for spec in category.tags.values()) or 1
        score = hits / n_cues ** 0.5
        if score > best_score:
            best, best_score = name, score
    return best


def segment_sentences(sentences: SentenceList, cfg: SegmentConfig) -> Segmentation:
    items = [Item(s.id, s.text, str(s.passage)) for s in sentences.sentences]
    name = cfg.category
    if name == "auto":
        name = guess_category([s.text for s in sentences.sentences])
    category = load_category(name)
    segments, fallbacks = classify_items(items, cfg, category)
    return Segmentation(backend=cfg.backend, category=category.name, segments=tuple(segments),
                        fallbacks=tuple(fallbacks))
