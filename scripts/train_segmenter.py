#!/usr/bin/env python3
"""Rebuild the embed backend's weights from the real labels, the dev sets and ../shared.

  scripts/train_segmenter.py [--pool 300] [--folds 5] [--out clipper/segment/model/segmenter.npz]

Prints grouped cross-validation on the real labelled passages for each recipe (and by channel
for the winner), keeps the recipe with the best passage-grouped macro-F1, fits it on all the
data and writes the weights (coefficients only, no text) and training/results.json.
Needs ../shared/salestalk and scikit-learn (pip install -e '.[train]').
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipper.segment.crossval import cross_validate, cross_validate_dev, fit, save  # noqa: E402
from clipper.segment.embed import MODEL_PATH  # noqa: E402
from clipper.segment.embedder import Embedder  # noqa: E402
from clipper.segment.evaluate import score  # noqa: E402
from clipper.segment.train import (  # noqa: E402
    REPO,
    Recipe,
    dev_rows,
    featurize,
    real_rows,
    unlabelled_rows,
)
from clipper.transcribe.models import cache_dir  # noqa: E402
from clipper.workspace import write_json_atomic  # noqa: E402

RECIPES = [
    Recipe("sentence only", context=False, rules=False),
    Recipe("+ context", rules=False),
    Recipe("+ context + rules"),
    Recipe("+ context + rules + smoothing", smooth=1.0),
    Recipe("+ context + rules + self-training", self_train=True),
    Recipe("+ context + rules + self-training + smoothing", self_train=True, smooth=1.0),
    Recipe("+ context + rules + self-training + n-gram head", self_train=True, ngrams=True),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=300, help="unlabelled real passages for self-training")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--recipes", default="all", help="'all', or comma-separated recipe numbers (1-based)")
    ap.add_argument("--passages", type=int, default=0, help="use only the first N labelled passages (a quick check)")
    ap.add_argument("--results", type=Path, default=REPO / "training" / "results.json")
    ap.add_argument("--quick", action="store_true", help="a quick check: Chinese dev rows only, cross-validate by passage only, no dev-set checks")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    embedder = Embedder(cache_dir() / "embeddings.sqlite")
    t0 = time.time()
    rows = real_rows()
    if args.passages:
        keep = sorted({r["passage"] for r in rows})[:args.passages]
        rows = [r for r in rows if r["passage"] in set(keep)]
    real = featurize(rows, embedder, _progress("real"))
    dev = featurize(dev_rows() if not args.quick else [r for r in dev_rows() if "dev_zh" in r["passage"]],
                    embedder, _progress("dev"))
    pool = featurize(unlabelled_rows(args.pool, {r["passage"] for r in real.rows}), embedder, _progress("pool"))
    print(f"data: {len(real.rows)} real labelled sentences in {len(set(real.groups))} passages, "
          f"{len(dev.rows)} dev, {len(pool.rows)} unlabelled ({time.time() - t0:.0f} s to embed)")

    rules = score(real.rows, [_rule_segment(r, lab) for r, lab in zip(real.rows, real.rules)])
    results = {"rules": {"macro_f1": rules.macro_f1,
                         "per_class": {k: v["f1"] for k, v in rules.per_label.items()}}, "recipes": []}
    print(f"rules on the real set: macro-F1 {rules.macro_f1:.3f}")
    chosen = RECIPES if args.recipes == "all" else [RECIPES[int(n) - 1] for n in args.recipes.split(",")]
    best, best_f1 = None, -1.0
    for recipe in chosen:
        t = time.time()
        cv = cross_validate(real, dev, recipe, pool, folds=args.folds, heads=False)
        per = {k: round(v["f1"], 3) for k, v in cv.scores.per_label.items()}
        print(f"{recipe.name:<48} macro-F1 {cv.scores.macro_f1:.3f}  {per}  ({time.time() - t:.0f} s)")
        results["recipes"].append({"name": recipe.name, "macro_f1": cv.scores.macro_f1, "per_class": per})
        if cv.scores.macro_f1 > best_f1:
            best, best_f1 = recipe, cv.scores.macro_f1
    assert best is not None
    full = {}
    for by in ("passage",) if args.quick else ("passage", "channel"):
        cv = cross_validate(real, dev, best, pool, folds=args.folds, by=by, heads=True)
        full[by] = {"macro_f1": cv.scores.macro_f1, "accuracy": cv.scores.accuracy,
                    "per_class": {k: v["f1"] for k, v in cv.scores.per_label.items()},
                    "confusion": cv.scores.confusion, "tag_f1": cv.tag_f1, "boundary": cv.boundary,
                    "category_accuracy": cv.category_accuracy}
        print(f"chosen '{best.name}', grouped by {by}: macro-F1 {cv.scores.macro_f1:.3f}, tag F1 {cv.tag_f1:.3f}, "
              f"product switches {json.dumps(cv.boundary)}, category accuracy {cv.category_accuracy:.3f}")
    for prefix in () if args.quick else ("dev_en", "dev_zh"):
        dev_scores = cross_validate_dev(real, dev, best, prefix, folds=args.folds)
        rule_scores = score([r for r in dev.rows if r["passage"].startswith(prefix)],
                            [_rule_segment(r, lab) for r, lab in zip(dev.rows, dev.rules)
                             if r["passage"].startswith(prefix)])
        full[prefix] = {"macro_f1": dev_scores.macro_f1, "rules_macro_f1": rule_scores.macro_f1,
                        "per_class": {k: v["f1"] for k, v in dev_scores.per_label.items()}}
        print(f"{prefix} by grouped cross-validation: macro-F1 {dev_scores.macro_f1:.3f} "
              f"(rules {rule_scores.macro_f1:.3f}, tuned on this set)")
    results["chosen"] = {"recipe": best.__dict__, **full}
    model = fit(real, dev, best, pool, heads=True).model
    save(model, args.out, {"trained_on": {"real": len(real.rows), "dev": len(dev.rows), "pool": len(pool.rows),
                                          "pool_passages": args.pool},
                           "cv": {by: round(v["macro_f1"], 4) for by, v in full.items()}})
    write_json_atomic(args.results, results)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB) and {args.results}")


def _rule_segment(row, label):
    from clipper.types import Segment

    return Segment(row["id"], label)


def _progress(what: str):
    def report(done: int, total: int) -> None:
        if done == total or done % 320 == 0:
            print(f"  embedding {what}: {done}/{total}", flush=True)
    return report


if __name__ == "__main__":
    main()
