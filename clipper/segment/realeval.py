"""``clipper eval --real``: score a backend on the real labelled host speech.

The trained backend is scored by grouped cross-validation (it is retrained on each fold with
the recipe the shipped weights were made with, so no held-out passage is ever seen in
training); backends that learn nothing from the labels (rules, language models) classify
every real passage once. Both report the same figures.
"""

from __future__ import annotations

import time
from typing import Sequence

from ..config import SegmentConfig, load_category
from ..errors import ConfigError
from .base import classify_items
from .evaluate import report, score
from .features import passage_ranges
from .item import Item


def evaluate_real(cfg: SegmentConfig, folds: int = 5, by: str = "passage") -> str:
    from .train import real_rows

    rows = real_rows()
    if cfg.backend == "embed":
        return _cross_validated(rows, folds, by)
    start = time.perf_counter()
    segments, products = [], []
    for a, b in passage_ranges([r["passage"] for r in rows]):
        items = [Item(r["id"], r["text"], r["passage"]) for r in rows[a:b]]
        name = cfg.category if cfg.category != "auto" else rows[a].get("category", "apparel")
        segs, _ = classify_items(items, cfg, load_category(name))
        segments += segs
        products += [s.product for s in segs]
    seconds = time.perf_counter() - start
    scores = score(rows, segments, seconds)
    from .crossval import tag_f1
    from .labelset import prf

    switches = _switches(rows, products)
    return "\n".join([
        report(scores, f"real host speech ({len(rows)} sentences, {len(set(r['passage'] for r in rows))} "
                       f"passages): backend {cfg.backend}, no training involved"),
        f"tag F1 {tag_f1(rows, [s.tags for s in segments]):.3f}   "
        f"product switches {_fmt(prf(*switches))}"])


def _switches(rows: Sequence[dict], products: Sequence[int]) -> tuple[list[bool], list[bool]]:
    gold, pred = [], []
    for a, b in passage_ranges([r["passage"] for r in rows]):
        for i in range(a + 1, b):
            gold.append(bool(rows[i].get("new_product")))
            pred.append(products[i] != products[i - 1])
    return gold, pred


def _fmt(p: dict) -> str:
    return f"P {p['precision']:.2f} R {p['recall']:.2f} F1 {p['f1']:.2f} ({p['switches']} switches)"


def _cross_validated(rows: list[dict], folds: int, by: str) -> str:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ConfigError("cross-validating the trained backend needs scikit-learn: "
                          "pip install -e '.[train]'") from None
    from ..transcribe.models import cache_dir
    from .crossval import cross_validate
    from .embed import trained_model
    from .embedder import Embedder
    from .train import Recipe, dev_rows, featurize, unlabelled_rows

    meta = trained_model().meta
    recipe = Recipe(**meta["recipe"])
    embedder = Embedder(cache_dir() / "embeddings.sqlite")
    start = time.perf_counter()
    real = featurize(rows, embedder)
    dev = featurize(dev_rows(), embedder)
    pool = None
    if recipe.self_train:
        pool = featurize(unlabelled_rows(meta["trained_on"]["pool_passages"], set(real.groups)), embedder)
    cv = cross_validate(real, dev, recipe, pool, folds=folds, by=by, heads=True)
    seconds = time.perf_counter() - start
    return "\n".join([
        report(cv.scores, f"real host speech ({len(rows)} sentences): backend embed, recipe '{recipe.name}', "
                          f"{folds}-fold cross-validation grouped by {by}"),
        f"tag F1 {cv.tag_f1:.3f}   category accuracy (per passage) {cv.category_accuracy:.3f}",
        f"product switches: real {_fmt(cv.boundary['real'])}; joined passages {_fmt(cv.boundary['joined'])}",
        f"{seconds:.0f} s including embedding (cached after the first run) and {folds} retrainings"])
