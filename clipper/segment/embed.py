"""The trained backend (``embed``, the default): sentence embeddings + context + a linear head.

Trained by ``scripts/train_segmenter.py`` on real host speech (labels in ``training/labels/``,
text read from ``../shared`` at training time), the project's dev sets and self-training on
unlabelled real transcripts. What ships is ``clipper/segment/model/segmenter.npz``: the
coefficients of a few linear heads and their standardisation, no text.

Per sentence: label (SELLING_POINT / PROMO / CHATTER) from [own, previous, next] embeddings and
the rules' signals, combined with a second head on hashed character n-grams of the sentence and
its neighbours (geometric mean of the two heads' probabilities), optionally smoothed along the
passage (Viterbi with learned transitions).
Selling points get tags from a multi-label head restricted to the product's category. A new
product starts where the topic shifts (a boundary head on embedding distances and the rules'
"next" phrases); each product's category is predicted from its mean embedding when the
configured category is ``auto``.

Look-ahead: sentence i is labelled from sentences up to i + ``LOOK_AHEAD`` (2) and a product
switch at i from up to i + ``BOUNDARY_SPAN`` - 1 (2), so a live pass can settle a sentence once
two more have been transcribed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import Category, Cues, available_categories, load_category
from ..types import Label, Segment
from . import ngrams
from .cues import CueMatcher
from .embedder import Embedder, EmbeddingUnavailable
from .features import (
    RULE_LABELS,
    boundary_features,
    category_shift,
    context_vectors,
    linear_softmax,
    link_number,
    passage_ranges,
    rule_features,
    sigmoid,
    softmax,
    viterbi,
)
from .item import Item
from .rules import RulesClassifier

log = logging.getLogger(__name__)

MODEL_PATH = Path(__file__).with_name("model") / "segmenter.npz"
FORMAT = 1
MAX_TAGS = 3
MIN_PRODUCT_SENTENCES = 3   # two switches closer than this are one topic wobble, not two products


@dataclass(frozen=True)
class TrainedModel:
    """The arrays in segmenter.npz (see clipper/segment/train.py for how each is fitted)."""

    label_mean: np.ndarray
    label_scale: np.ndarray
    label_w: np.ndarray          # (3, F) in RULE_LABELS order
    label_b: np.ndarray
    log_trans: np.ndarray        # (3, 3) log P(next label | label)
    smooth: float                # Viterbi transition weight; 0 = per-sentence argmax
    tag_names: tuple[str, ...]
    tag_w: np.ndarray            # (T, 1152) on the context vectors
    tag_b: np.ndarray
    tag_threshold: float
    category_names: tuple[str, ...]
    category_w: np.ndarray       # (C, 384) on a product's mean embedding
    category_b: np.ndarray
    switch_w: np.ndarray         # (8,) on boundary_features + category_shift
    switch_b: float
    switch_threshold: float
    meta: dict
    ngram_idf: np.ndarray | None = None    # (BUCKETS,) the n-gram head's idf (ngrams.py); None: no n-gram head
    ngram_w: np.ndarray | None = None      # (3, 3 * BUCKETS) on own, previous and next sentences' n-grams
    ngram_b: np.ndarray | None = None
    ngram_weight: float = 0.0              # its share in the geometric mean of the two heads

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "TrainedModel":
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("format") != FORMAT:
                    raise ValueError(f"format {meta.get('format')}, expected {FORMAT}")
                return cls(
                    z["label_mean"], z["label_scale"], z["label_w"], z["label_b"], z["log_trans"],
                    float(z["smooth"]), tuple(str(t) for t in z["tag_names"]), z["tag_w"],
                    z["tag_b"], float(z["tag_threshold"]), tuple(str(c) for c in z["category_names"]),
                    z["category_w"], z["category_b"], z["switch_w"], float(z["switch_b"]),
                    float(z["switch_threshold"]), meta,
                    *((z["ngram_idf"].astype(np.float32), z["ngram_w"], z["ngram_b"], float(z["ngram_weight"]))
                      if "ngram_w" in z.files else ()))
        except (OSError, KeyError, ValueError) as exc:
            raise EmbeddingUnavailable(f"the trained segmenter {path} cannot be read: {exc}") from None

    # Pure predictions from features (training uses the same functions to score itself).
    def label_probs(self, x: np.ndarray) -> np.ndarray:
        return linear_softmax(x, self.label_mean, self.label_scale, self.label_w, self.label_b)

    def combined_probs(self, x: np.ndarray, counts: Sequence, passages: Sequence[str]) -> np.ndarray:
        """The embedding head's probabilities, and with an n-gram head their weighted geometric
        mean with its probabilities (renormalised). ``counts``: ngrams.term_counts of the texts."""
        probs = self.label_probs(x)
        if self.ngram_w is None or self.ngram_weight <= 0:
            return probs
        rows = ngrams.with_context(ngrams.sentence_vectors(counts, self.ngram_idf), passages)
        ngram_log = np.log(np.clip(softmax(ngrams.scores(rows, self.ngram_w, self.ngram_b)), 1e-9, 1.0))
        a = self.ngram_weight
        return softmax((1 - a) * np.log(np.clip(probs, 1e-9, 1.0)) + a * ngram_log)

    def labels(self, probs: np.ndarray, passages: Sequence[str]) -> np.ndarray:
        if self.smooth <= 0:
            return probs.argmax(axis=1)
        out = np.zeros(len(probs), dtype=np.int64)
        for a, b in passage_ranges(passages):
            out[a:b] = viterbi(probs[a:b], self.log_trans, self.smooth)
        return out

    def tag_probs(self, ctx: np.ndarray) -> np.ndarray:
        return sigmoid(ctx @ self.tag_w.T + self.tag_b)

    def switch_inputs(self, bound: np.ndarray, emb: np.ndarray, passages: Sequence[str]) -> np.ndarray:
        return np.hstack([bound, category_shift(emb, passages, self.category_w, self.category_b)])

    def switch_probs(self, inputs: np.ndarray) -> np.ndarray:
        return sigmoid(inputs @ self.switch_w + self.switch_b)

    def products(self, inputs: np.ndarray, forced: Sequence[bool] | None = None) -> list[int]:
        return products_from_switches(self.switch_probs(inputs), self.switch_threshold, forced)

    def category_probs(self, mean_emb: np.ndarray) -> np.ndarray:
        return softmax(mean_emb @ self.category_w.T + self.category_b)


@lru_cache(maxsize=1)
def trained_model() -> TrainedModel:
    return TrainedModel.load()


def choose_tags(probs: np.ndarray, names: Sequence[str], allowed: set[str], threshold: float) -> tuple[str, ...]:
    """Up to MAX_TAGS allowed tags at or above ``threshold``; the likeliest allowed one if none is."""
    order = [i for i in np.argsort(-probs) if names[i] in allowed]
    if not order:
        return ("other",)
    picked = [names[i] for i in order[:MAX_TAGS] if probs[i] >= threshold]
    return tuple(picked) or (names[order[0]],)


def products_from_switches(probs: np.ndarray, threshold: float, forced: Sequence[bool] | None = None) -> list[int]:
    """Product numbers (1-based) from per-sentence switch probabilities: in each run of
    sentences above ``threshold`` the most likely one starts the new product (peak picking, as
    in TextTiling), and of two peaks closer than MIN_PRODUCT_SENTENCES the stronger wins.
    ``forced`` marks sentences that start a product whatever the model says (the host said
    "next up": the configured next-product phrases)."""
    probs = np.asarray(probs, dtype=float).copy()
    if forced is not None:
        probs[1:] = np.where(np.asarray(forced, dtype=bool)[1:], 2.0, probs[1:])
    peaks: list[int] = []
    i = 1
    while i < len(probs):
        if probs[i] >= threshold:
            j = i
            while j + 1 < len(probs) and probs[j + 1] >= threshold:
                j += 1
            peaks.append(max(range(i, j + 1), key=lambda k: probs[k]))
            i = j + 1
        else:
            i += 1
    kept: list[int] = []
    for k in sorted(peaks, key=lambda k: -probs[k]):
        if all(abs(k - other) >= MIN_PRODUCT_SENTENCES for other in kept):
            kept.append(k)
    starts = set(kept)
    products, product = [], 1
    for i in range(len(probs)):
        product += i in starts
        products.append(product)
    return products


class EmbedClassifier:
    name = "embed"

    def __init__(self, category: Category, cues: Cues, auto_category: bool, cache_path: Path | None,
                 model: TrainedModel | None = None) -> None:
        self.model = model or trained_model()
        self.embedder = Embedder(cache_path)
        self.category = category
        self.auto_category = auto_category
        self.rules = RulesClassifier(category, cues)
        self.matcher = CueMatcher(cues, category)
        self.product_numbers: list[int] = []
        self.categories: list[str] = []
        self.probs = np.zeros((0, 3))
        self.tags_if_selling: list[tuple[str, ...]] = []
        self.fallbacks: list = []

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        if not items:
            return []
        m = self.model
        texts = [it.text for it in items]
        passages = [it.passage for it in items]
        emb = self.embedder.embed(texts)
        ctx = context_vectors(emb, passages)
        rules = self.rules.classify(items)
        x = np.hstack([ctx, rule_features(texts, rules, self.matcher)])
        probs = m.combined_probs(x, ngrams.term_counts(texts), passages)
        labels = m.labels(probs, passages)
        next_phrase = [bool(self.matcher.hits("next_product", t)) for t in texts]
        # One recording: a product may change across a pause, so boundaries are compared across
        # passages too (training data marks each transcript as its own recording instead).
        stream = ["stream"] * len(items)
        bound = boundary_features(emb, texts, stream, next_phrase, [link_number(t) for t in texts])
        self.product_numbers = m.products(m.switch_inputs(bound, emb, stream), forced=next_phrase)
        self.categories = self._categories(emb, self.product_numbers)
        tag_probs = m.tag_probs(ctx)
        self.probs = probs
        # Tags for every sentence as if it were a selling point: a combining backend may overrule the label.
        self.tags_if_selling = [choose_tags(tag_probs[i], m.tag_names,
                                           set(category_tags(self.categories[i])) | {"other"}, m.tag_threshold)
                                for i in range(len(items))]
        out = []
        for i, item in enumerate(items):
            label = RULE_LABELS[labels[i]]
            tags = self.tags_if_selling[i] if label is Label.SELLING_POINT else ()
            out.append(Segment(item.id, label, tags, score=round(float(probs[i, labels[i]]), 3),
                               backend=self.name, cues=rules[i].cues, category=self.categories[i]))
        return out

    def _categories(self, emb: np.ndarray, products: list[int]) -> list[str]:
        if not self.auto_category:
            return [self.category.name] * len(products)
        known = set(available_categories())
        by_product: dict[int, str] = {}
        for p in sorted(set(products)):
            rows = [i for i, q in enumerate(products) if q == p]
            probs = self.model.category_probs(emb[rows].mean(axis=0, keepdims=True))[0]
            ranked = [self.model.category_names[j] for j in np.argsort(-probs)]
            by_product[p] = next((c for c in ranked if c in known), self.category.name)
        return [by_product[p] for p in products]


@lru_cache(maxsize=16)
def category_tags(name: str) -> tuple[str, ...]:
    return tuple(load_category(name).tags)
