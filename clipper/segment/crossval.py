"""Grouped cross-validation of the trained backend on real passages, and the fit that ships.

A fold holds out whole passages (``by="passage"``) or whole channels (``by="channel"``: a host
the model has never heard). The written dev sets and the self-training pool are always on the
training side; every score is computed on real labelled speech only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..types import Label, Segment
from ..workspace import write_bytes_atomic
from .embed import (
    FORMAT,
    TrainedModel,
    category_tags,
    choose_tags,
    products_from_switches,
)
from .evaluate import Scores, score
from .features import (
    N_BOUNDARY_FEATURES,
    RULE_LABELS,
    category_shift,
    linear_softmax,
    passage_ranges,
)
from .labelset import CATEGORIES, TAGS, grouped_folds, prf
from .train import (
    Dataset,
    Recipe,
    fit_category_head,
    fit_label_head,
    fit_ngram_head,
    fit_switch_head,
    fit_tag_head,
    switch_junctions,
    transitions,
)

log = logging.getLogger(__name__)

CONFIDENT = 0.9          # a pseudo-label is kept at this probability, and only where the rules agree
TAG_NAMES = TAGS + ("taste",)


def _group_keys(d: Dataset, by: str) -> list[str]:
    return [r.get("channel", r["passage"]) if by == "channel" else r["passage"] for r in d.rows]


@dataclass
class Fitted:
    model: TrainedModel

    def predict(self, d: Dataset) -> tuple[np.ndarray, np.ndarray]:
        probs = self.model.combined_probs(d.x, d.counts, d.groups)
        return self.model.labels(probs, d.groups), probs


def fit(train: Dataset, dev: Dataset, recipe: Recipe, pool: Dataset | None = None,
        heads: bool = False) -> Fitted:
    """Fit the label head (and, with ``heads``, the tag, category and switch heads too)."""
    both = _concat(train, dev)
    weights = np.concatenate([np.full(len(train.rows), recipe.real_weight),
                              [recipe.english_weight if r["passage"].startswith("dev_en") else 1.0 for r in dev.rows]])
    mean, scale, w, b = fit_label_head(both, recipe, weights)
    extra, extra_y = None, None
    if recipe.self_train and pool is not None and len(pool.rows):
        probs = linear_softmax(pool.x, mean, scale, w, b)
        guess = probs.argmax(axis=1)
        rules = np.array([RULE_LABELS.index(lab) for lab in pool.rules])
        keep = np.where((probs.max(axis=1) >= CONFIDENT) & (guess == rules))[0]
        extra, extra_y = pool.subset(keep), guess[keep]
        mean, scale, w, b = fit_label_head(both, recipe, weights, extra, extra_y)
    ngram = {}
    if recipe.ngrams:
        idf, ngram_w, ngram_b = fit_ngram_head(both, recipe, weights)
        ngram = {"ngram_idf": idf, "ngram_w": ngram_w, "ngram_b": ngram_b, "ngram_weight": recipe.ngram_weight}
    log_trans = transitions([train])
    tag_w = np.zeros((len(TAG_NAMES), both.ctx.shape[1]), np.float32)
    tag_b = np.full(len(TAG_NAMES), -6.0, np.float32)
    cat_w = np.zeros((len(CATEGORIES), both.emb.shape[1]), np.float32)
    cat_b = np.zeros(len(CATEGORIES), np.float32)
    sw_w, sw_b, sw_t = np.zeros(N_BOUNDARY_FEATURES + 1, np.float32), -10.0, 0.5
    if heads:
        tag_w, tag_b = fit_tag_head(both, TAG_NAMES)
        cat_w, cat_b = fit_category_head(both, list(CATEGORIES))
        switch_data = _concat(train, switch_junctions(train, 200))
        shift = category_shift(switch_data.emb, switch_data.groups, cat_w, cat_b)
        sw_w, sw_b, sw_t = fit_switch_head(switch_data, np.hstack([switch_data.bound, shift]))
    model = TrainedModel(mean, scale, w, b, log_trans, recipe.smooth, TAG_NAMES, tag_w, tag_b,
                         0.5, CATEGORIES, cat_w, cat_b, sw_w, sw_b, sw_t,
                         {"format": FORMAT, "recipe": recipe.__dict__}, **ngram)
    return Fitted(model)


def _concat(a: Dataset, b: Dataset) -> Dataset:
    out = Dataset.__new__(Dataset)
    out.rows = a.rows + b.rows
    out.emb, out.x = np.vstack([a.emb, b.emb]), np.vstack([a.x, b.x])
    out.ctx, out.bound = np.vstack([a.ctx, b.ctx]), np.vstack([a.bound, b.bound])
    out.rules = a.rules + b.rules
    out.counts = a.counts + b.counts
    return out


def segments_of(d: Dataset, labels: np.ndarray, tags: list[tuple[str, ...]] | None = None) -> list[Segment]:
    return [Segment(r["id"], RULE_LABELS[int(k)], tags[i] if tags else (), backend="embed")
            for i, (r, k) in enumerate(zip(d.rows, labels))]


@dataclass
class CVResult:
    scores: Scores
    tag_f1: float
    boundary: dict
    category_accuracy: float


def cross_validate(real: Dataset, dev: Dataset, recipe: Recipe, pool: Dataset | None = None,
                   folds: int = 5, by: str = "passage", heads: bool = True, seed: int = 0) -> CVResult:
    keys = _group_keys(real, by)
    labels = np.zeros(len(real.rows), dtype=np.int64)
    tags: list[tuple[str, ...]] = [()] * len(real.rows)
    switch = np.zeros(len(real.rows), dtype=bool)
    cat_hits = cat_n = 0
    joined_gold, joined_pred = [], []
    for test in grouped_folds(keys, folds, seed):
        train_idx = np.setdiff1d(np.arange(len(real.rows)), test)
        train, held = real.subset(train_idx), real.subset(test)
        fitted = fit(train, dev, recipe, pool, heads=heads)
        labels[test], _ = fitted.predict(held)
        if not heads:
            continue
        m = fitted.model
        tag_probs = m.tag_probs(held.ctx)
        sw = m.switch_probs(m.switch_inputs(held.bound, held.emb, held.groups))
        for j, i in enumerate(test):
            cat = real.rows[i].get("category", "apparel")
            tags[i] = choose_tags(tag_probs[j], m.tag_names, set(category_tags(cat)) | {"other"},
                                  m.tag_threshold)
        for a, b in passage_ranges(held.groups):
            numbers = products_from_switches(sw[a:b], m.switch_threshold, held.bound[a:b, 3] > 0)
            for k in range(a + 1, b):
                switch[test[k]] = numbers[k - a] != numbers[k - a - 1]
            probs = m.category_probs(held.emb[a:b].mean(axis=0, keepdims=True))[0]
            cat_hits += CATEGORIES[int(probs.argmax())] == held.rows[a].get("category")
            cat_n += 1
        joined = switch_junctions(held, 60, seed=7)
        jsw = m.switch_probs(m.switch_inputs(joined.bound, joined.emb, joined.groups))
        for a, b in passage_ranges(joined.groups):
            numbers = products_from_switches(jsw[a:b], m.switch_threshold, joined.bound[a:b, 3] > 0)
            joined_pred += [numbers[k] != numbers[k - 1] for k in range(1, b - a)]
            joined_gold += [bool(joined.rows[a + k].get("new_product")) for k in range(1, b - a)]
    firsts = _firsts(real)
    gold_sw = [bool(r.get("new_product")) and i not in firsts for i, r in enumerate(real.rows)]
    return CVResult(score(real.rows, segments_of(real, labels, tags)), tag_f1(real.rows, tags),
                    {"real": prf(gold_sw, list(switch)), "joined": prf(joined_gold, joined_pred)},
                    cat_hits / cat_n if cat_n else 0.0)


def _firsts(d: Dataset) -> set[int]:
    return {a for a, _ in passage_ranges(d.groups)}


def tag_f1(rows: Sequence[dict], predicted: Sequence[Sequence[str]]) -> float:
    """Micro-F1 of tags over the sentences labelled SELLING_POINT with tags."""
    tp = fp = fn = 0
    for row, got in zip(rows, predicted):
        if row["label"] != Label.SELLING_POINT.value or not row.get("tags"):
            continue
        gold = set(row["tags"])
        tp += len(gold & set(got))
        fp += len(set(got) - gold)
        fn += len(gold - set(got))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def save(model: TrainedModel, path: Path, meta: dict) -> Path:
    import io

    buf = io.BytesIO()
    np.savez_compressed(
        buf, label_mean=model.label_mean, label_scale=model.label_scale, label_w=model.label_w,
        label_b=model.label_b, log_trans=model.log_trans,
        smooth=np.float32(model.smooth), tag_names=np.array(model.tag_names), tag_w=model.tag_w.astype(np.float16),
        tag_b=model.tag_b, tag_threshold=np.float32(model.tag_threshold),
        category_names=np.array(model.category_names), category_w=model.category_w.astype(np.float16),
        category_b=model.category_b, switch_w=model.switch_w, switch_b=np.float32(model.switch_b),
        switch_threshold=np.float32(model.switch_threshold),
        **({} if model.ngram_w is None else {
            "ngram_idf": model.ngram_idf.astype(np.float16), "ngram_w": model.ngram_w.astype(np.float16),
            "ngram_b": model.ngram_b, "ngram_weight": np.float32(model.ngram_weight)}),
        meta=np.array(json.dumps({**model.meta, **meta, "format": FORMAT}, ensure_ascii=False)))
    return write_bytes_atomic(path, buf.getvalue())


def cross_validate_dev(real: Dataset, dev: Dataset, recipe: Recipe, prefix: str, folds: int = 5,
                       seed: int = 0) -> Scores:
    """Labels of one written dev set (e.g. ``dev_en.jsonl``) by grouped cross-validation over its
    passages, trained on all the real speech and the other dev rows: how the trained backend
    does on a language it has little real speech for."""
    inside = np.array([i for i, r in enumerate(dev.rows) if r["passage"].startswith(prefix)])
    outside = np.setdiff1d(np.arange(len(dev.rows)), inside)
    target = dev.subset(inside)
    labels = np.zeros(len(inside), dtype=np.int64)
    for test in grouped_folds(target.groups, folds, seed):
        train_idx = np.setdiff1d(np.arange(len(inside)), test)
        others = _concat(dev.subset(outside), target.subset(train_idx))
        fitted = fit(real, others, recipe)
        labels[test], _ = fitted.predict(target.subset(test))
    return score(target.rows, segments_of(target, labels))
