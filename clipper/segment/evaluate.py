"""Measure a segmentation backend against labelled sentences (pure metrics + a runner).

A labelled file is JSON Lines: ``{"id", "text", "passage"?, "label", "tags"?, "category"?}``.
Rows carry their category (the taxonomy the host's product belongs to); rows without one
use the category given to ``evaluate``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import ConfigError
from ..text import read_text_file
from ..types import Label, Segment
from .item import Item

LABELS = [label.value for label in Label]


@dataclass(frozen=True)
class Scores:
    n: int
    per_label: dict[str, dict[str, float]]
    macro_f1: float
    accuracy: float
    tag_hit: float           # selling points found as such whose tags share one with the gold tags
    tag_jaccard: float
    confusion: dict[str, dict[str, int]]   # gold -> predicted -> count
    seconds_per_100: float = 0.0
    fallbacks: int = 0
    by_language: dict[str, float] = field(default_factory=dict)


def read_labelled(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row["label"] not in LABELS:
                raise ValueError(f"label {row['label']!r}")
            rows.append(row)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"line {n}: not a labelled sentence ({exc})", path=str(path)) from None
    return rows


def score(gold: Sequence[dict], predicted: Sequence[Segment], seconds: float = 0.0) -> Scores:
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    hits, jac, n_tagged = 0, 0.0, 0
    for row, seg in zip(gold, predicted):
        confusion[row["label"]][seg.label.value] += 1
        if row["label"] == seg.label.value == Label.SELLING_POINT.value and row.get("tags"):
            gold_tags, got = set(row["tags"]), set(seg.tags)
            n_tagged += 1
            hits += bool(gold_tags & got)
            jac += len(gold_tags & got) / len(gold_tags | got) if gold_tags | got else 1.0
    per_label = {}
    for label in LABELS:
        tp = confusion[label][label]
        fp = sum(confusion[g][label] for g in LABELS) - tp
        fn = sum(confusion[label].values()) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        per_label[label] = {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
                            "support": tp + fn}
    n = len(gold)
    return Scores(
        n=n, per_label=per_label, macro_f1=sum(v["f1"] for v in per_label.values()) / len(LABELS),
        accuracy=sum(confusion[label][label] for label in LABELS) / n if n else 0.0,
        tag_hit=hits / n_tagged if n_tagged else 0.0, tag_jaccard=jac / n_tagged if n_tagged else 0.0,
        confusion=confusion, seconds_per_100=100 * seconds / n if n else 0.0)


def evaluate(rows: Sequence[dict], classify: Callable[[Sequence[Item], str], list[Segment]],
             default_category: str) -> Scores:
    """Classify rows category by category (keeping file order inside each) and score them."""
    by_category: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_category.setdefault(row.get("category") or default_category, []).append(i)
    predicted: list[Segment | None] = [None] * len(rows)
    start = time.perf_counter()
    for category, indices in by_category.items():
        items = [Item(str(rows[i]["id"]), rows[i]["text"], str(rows[i].get("passage", ""))) for i in indices]
        for i, seg in zip(indices, classify(items, category)):
            predicted[i] = seg
    seconds = time.perf_counter() - start
    result = score(rows, [p for p in predicted if p is not None], seconds)
    fallbacks = sum(1 for p in predicted if p is not None and p.backend.endswith("fallback"))
    return Scores(**{**result.__dict__, "fallbacks": fallbacks})


def report(scores: Scores, title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{'label':<15}{'precision':>10}{'recall':>8}{'f1':>8}{'support':>9}")
    for label, v in scores.per_label.items():
        lines.append(f"{label:<15}{v['precision']:10.3f}{v['recall']:8.3f}{v['f1']:8.3f}{int(v['support']):9d}")
    lines.append(f"macro-F1 {scores.macro_f1:.3f}   accuracy {scores.accuracy:.3f}   "
                 f"tag hit {scores.tag_hit:.3f}   tag jaccard {scores.tag_jaccard:.3f}")
    lines.append("confusion (rows gold, columns predicted):")
    lines.append(" " * 15 + "".join(f"{p[:8]:>10}" for p in LABELS))
    for g in LABELS:
        lines.append(f"{g:<15}" + "".join(f"{scores.confusion[g][p]:10d}" for p in LABELS))
    lines.append(f"{scores.n} sentences, {scores.seconds_per_100:.3f} s per 100 sentences"
                 + (f", {scores.fallbacks} fell back to rules" if scores.fallbacks else ""))
    return "\n".join(lines)
