"""The classifier interface and what every backend shares (products, time-bound claims)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from functools import lru_cache
from typing import Protocol, Sequence

from ..config import (Category, Cues, OpenAIConfig, SegmentConfig, TransformersConfig, available_categories,
                      load_category, load_cues)
from ..errors import ConfigError
from ..types import SentenceList, Segment, Segmentation
from .cues import CueMatcher
from .item import Item

log = logging.getLogger(__name__)


class Classifier(Protocol):
    name: str

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        """One Segment per item, same order. Products and time-bound marks are added after."""
        ...


def _transformers_chat(cfg: TransformersConfig):
    # Only where the model comes from decides what is loaded: one load serves both modes.
    return _load_chat(cfg.model_copy(update={"mode": "score", "max_new_tokens": 0}))


@lru_cache(maxsize=2)
def _load_chat(cfg: TransformersConfig):
    from .local_model import TransformersChat

    return TransformersChat(cfg)  # loading takes seconds: keep it for the next stream


def _openai_chat(cfg: OpenAIConfig):
    from .remote_model import OpenAIChat

    return OpenAIChat(cfg)


def _load_embed(cfg: SegmentConfig, category: Category, cues: Cues):
    """(the trained backend, "") or (None, why) when its engine or weights cannot load."""
    from ..transcribe.models import cache_dir
    from .embed import EmbedClassifier
    from .embedder import EmbeddingUnavailable

    try:
        return EmbedClassifier(category, cues, auto_category=cfg.category == "auto",
                               cache_path=cache_dir() / "embeddings.sqlite"), ""
    except EmbeddingUnavailable as exc:
        # Say so loudly and in the manifest, but still clip: the rules need nothing.
        log.warning("embed backend unavailable: %s", exc)
        return None, exc.message


def make_classifier(cfg: SegmentConfig, category: Category, cues: Cues) -> Classifier:
    if cfg.backend == "embed":
        from .rules import RulesClassifier

        embed, why = _load_embed(cfg, category, cues)
        if embed is not None:
            return embed
        rules = RulesClassifier(category, cues)
        rules.fallbacks = [{"first": "", "last": "", "backend": "rules", "reason": why}]
        return rules
    if cfg.backend == "rules":
        from .rules import RulesClassifier

        return RulesClassifier(category, cues)
    if cfg.backend in ("transformers", "openai"):
        from ..transcribe.models import cache_dir

        if cfg.backend == "transformers" and cfg.transformers.mode == "score":
            from .llm import ReplyCache
            from .scoring import ScoringClassifier

            llm = ScoringClassifier(_transformers_chat(cfg.transformers), category,
                                    ReplyCache(cache_dir() / "llm-replies" if cfg.llm.cache else None))
        else:
            from .llm import LLMClassifier

            chat = _transformers_chat(cfg.transformers) if cfg.backend == "transformers" else _openai_chat(cfg.openai)
            max_tokens = cfg.transformers.max_new_tokens if cfg.backend == "transformers" else 0
            llm = LLMClassifier(chat, category, cues, cfg.llm, cache_dir() / "llm-replies", max_tokens)
        if cfg.llm.combine:
            embed, _ = _load_embed(cfg, category, cues)
            if embed is not None:
                from .combine import CombinedClassifier

                return CombinedClassifier(llm, embed)
        return llm
    raise ConfigError(f"unknown segmentation backend '{cfg.backend}'")


def classify_items(items: Sequence[Item], cfg: SegmentConfig, category: Category,
                   cues: Cues | None = None) -> tuple[list[Segment], list[dict]]:
    """(segments, fallbacks): label, tag and number the products of ``items``."""
    cues = cues or load_cues()
    classifier = make_classifier(cfg, category, cues)
    segments = classifier.classify(items)
    fallbacks = [f if isinstance(f, dict) else f.__dict__ for f in getattr(classifier, "fallbacks", [])]
    products = getattr(classifier, "product_numbers", None) or None
    return mark_products_and_claims(items, segments, CueMatcher(cues), products), fallbacks


def mark_products_and_claims(items: Sequence[Item], segments: Sequence[Segment],
                             matcher: CueMatcher, products: Sequence[int] | None = None) -> list[Segment]:
    """Number products and flag time-bound claims. A backend that detects product switches
    itself passes ``products``; otherwise a "next product" phrase starts a new one."""
    out = []
    product = 1
    for i, (item, seg) in enumerate(zip(items, segments)):
        if products is not None:
            product = products[i]
        elif i > 0 and matcher.hits("next_product", item.text):
            product += 1
        out.append(replace(seg, product=product, time_bound=bool(matcher.hits("time_bound", item.text))))
    return out


@lru_cache(maxsize=65536)
def _tag_cue_hits(category_name: str, text: str) -> int:
    # Cached per sentence: the trainer and the live path ask again for windows that overlap.
    matcher = CueMatcher(load_cues(), load_category(category_name))
    return sum(len(v) for v in matcher.tag_hits(text).values())


def guess_category(texts: Sequence[str]) -> str:
    """The category whose tag cues the host uses most (per cue word, so big lists do not win)."""
    best, best_score = "apparel", -1.0
    for name in available_categories():
        category = load_category(name)
        hits = sum(_tag_cue_hits(name, text) for text in texts)
        n_cues = sum(len(spec.zh) + len(spec.en) for spec in category.tags.values()) or 1
        score = hits / n_cues ** 0.5
        if score > best_score:
            best, best_score = name, score
    return best


def segmenter_version(cfg: SegmentConfig) -> str:
    """What a cached segmentation depends on beyond the config: the trained weights, when used."""
    if cfg.backend == "rules" or (cfg.backend != "embed" and not cfg.llm.combine):
        return ""
    import hashlib

    from .embed import MODEL_PATH

    try:
        return hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest()[:16]
    except OSError:
        return "no-model"


def segment_sentences(sentences: SentenceList, cfg: SegmentConfig) -> Segmentation:
    items = [Item(s.id, s.text, str(s.passage)) for s in sentences.sentences]
    name = cfg.category
    if name == "auto":
        name = guess_category([s.text for s in sentences.sentences])
    category = load_category(name)
    segments, fallbacks = classify_items(items, cfg, category)
    backend = cfg.backend
    if backend == "embed" and any(f.get("backend") == "rules" for f in fallbacks):
        backend = "rules"
    detected = Counter(s.category for s in segments if s.category)
    return Segmentation(backend=backend, category=detected.most_common(1)[0][0] if detected else category.name,
                        segments=tuple(segments), fallbacks=tuple(fallbacks))
