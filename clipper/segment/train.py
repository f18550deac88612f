"""Train the embed backend and measure it honestly (needs scikit-learn: ``pip install clipper[train]``).

Data: the real labelled sentences (``training/labels/*.jsonl``: keys into ``../shared``), the
project's dev sets (written by us: clean, so they teach the vocabulary, not the speech), and
unlabelled real transcripts for self-training (a pseudo-label is kept where a confident model
and the rules agree). Scores come from grouped cross-validation over *real* passages: a
passage (or, stricter, a whole channel) is never in training and test at once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import load_cues
from ..types import Label
from .base import guess_category
from .corpus import Passage, load_salestalk, read_jsonl, resolve
from .cues import CueMatcher
from .embedder import Embedder
from .features import (
    N_RULE_FEATURES,
    RULE_LABELS,
    boundary_features,
    context_vectors,
    link_number,
    passage_ranges,
    rule_features,
)
from .item import Item
from .labelset import grouped_folds, prf
from .ngrams import (
    as_sparse,
    document_frequency,
    sentence_vectors,
    term_counts,
    with_context,
)
from .rules import RulesClassifier

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
LABELS_DIR = REPO / "training" / "labels"
DEV_SETS = ("dev_zh.jsonl", "dev_en.jsonl")
LABEL_INDEX = {label.value: i for i, label in enumerate(RULE_LABELS)}


@dataclass
class Dataset:
    """Rows (dicts with text, passage, label, tags, category, new_product) and their features."""

    rows: list[dict]
    emb: np.ndarray
    x: np.ndarray = field(init=False)         # label features: context vectors + rule signals
    ctx: np.ndarray = field(init=False)
    rules: list[Label] = field(init=False)
    bound: np.ndarray = field(init=False)
    counts: list = field(init=False)          # hashed character n-gram counts per sentence (ngrams.py)

    def __post_init__(self) -> None:
        passages = [r["passage"] for r in self.rows]
        self.ctx = context_vectors(self.emb, passages)
        cues = load_cues()
        rule_x = np.zeros((len(self.rows), N_RULE_FEATURES), dtype=np.float32)
        self.rules = []
        next_phrase = []
        for a, b in passage_ranges(passages):
            group = list(range(a, b))
            texts = [self.rows[i]["text"] for i in group]
            category = _rules_category(texts)
            matcher = CueMatcher(cues, category)
            segs = RulesClassifier(category, cues).classify([Item(str(i), self.rows[i]["text"], "p") for i in group])
            rule_x[group] = rule_features(texts, segs, matcher)
            self.rules += [s.label for s in segs]
            next_phrase += [bool(matcher.hits("next_product", t)) for t in texts]
        self.x = np.hstack([self.ctx, rule_x])
        self.counts = term_counts([r["text"] for r in self.rows])
        self.bound = boundary_features(self.emb, [r["text"] for r in self.rows], passages, next_phrase,
                                       [link_number(r["text"]) for r in self.rows])

    @property
    def y(self) -> np.ndarray:
        return np.array([LABEL_INDEX[r["label"]] for r in self.rows])

    @property
    def groups(self) -> list[str]:
        return [r["passage"] for r in self.rows]

    def subset(self, idx: Sequence[int]) -> "Dataset":
        out = Dataset.__new__(Dataset)
        idx = np.asarray(idx, dtype=np.int64)
        out.rows = [self.rows[i] for i in idx]
        out.emb, out.x, out.ctx, out.bound = self.emb[idx], self.x[idx], self.ctx[idx], self.bound[idx]
        out.rules = [self.rules[i] for i in idx]
        out.counts = [self.counts[i] for i in idx]
        return out


def _groups(passages: Sequence[str]) -> list[list[int]]:
    return [list(range(a, b)) for a, b in passage_ranges(passages)]


def _rules_category(texts: Sequence[str]):
    from ..config import load_category

    return load_category(guess_category(texts))   # what the run-time default (category auto) does


def real_rows(shared: Path | None = None) -> list[dict]:
    """Every labelled real sentence with its text read back from ``../shared``."""
    passages = load_salestalk(shared)
    rows: list[dict] = []
    for path in sorted(LABELS_DIR.glob("salestalk_zh.jsonl")):
        rows += resolve(read_jsonl(path), passages)
    return rows


def dev_rows() -> list[dict]:
    rows = []
    for name in DEV_SETS:
        for r in read_jsonl(REPO / "tests" / "data" / name):
            rows.append({**r, "passage": f"{name}:{r.get('passage', '')}", "new_product": False})
    return rows


def unlabelled_rows(n_passages: int, exclude: set[str], shared: Path | None = None, seed: int = 5) -> list[dict]:
    passages: dict[str, Passage] = load_salestalk(shared)
    names = sorted(n for n in passages if n not in exclude)
    random.Random(seed).shuffle(names)
    rows = []
    for name in names[:n_passages]:
        for (a, b), text in passages[name].sentences():
            rows.append({"id": f"{name}:{a}-{b}", "passage": name, "text": text, "label": "CHATTER",
                         "tags": [], "new_product": False, "channel": passages[name].channel})
    return rows


def featurize(rows: list[dict], embedder: Embedder,
              on_progress: Callable[[int, int], None] | None = None) -> Dataset:
    return Dataset(rows, embedder.embed([r["text"] for r in rows], on_progress))


# ---- the heads -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    """What the label head is trained with; cross-validation picks between recipes."""

    name: str
    context: bool = True
    rules: bool = True
    smooth: float = 0.0
    self_train: bool = False
    c: float = 0.5
    real_weight: float = 2.0        # real sentences count more than the written dev sets,
    english_weight: float = 8.0     # except English ones: there is no real English speech to learn from
    ngrams: bool = False            # a second head on hashed character n-grams (ngrams.py), combined
    ngram_c: float = 10.0           # by a geometric mean of the two heads' probabilities
    ngram_weight: float = 0.5


def _columns(recipe: Recipe, n_features: int) -> np.ndarray:
    cols = np.arange(n_features)
    if not recipe.context:
        cols = np.concatenate([cols[:384], cols[1152:]])
    if not recipe.rules:
        cols = cols[cols < 1152]
    return cols


def fit_label_head(train: Dataset, recipe: Recipe, weights: np.ndarray, extra: Dataset | None = None,
                   extra_y: np.ndarray | None = None):
    """(mean, scale, W, b) of a multinomial logistic regression on standardised features."""
    from sklearn.linear_model import LogisticRegression

    x, y, w = train.x, train.y, weights
    if extra is not None and extra_y is not None and len(extra_y):
        x, y, w = np.vstack([x, extra.x]), np.concatenate([y, extra_y]), np.concatenate([w, np.full(len(extra_y), 0.5)])
    cols = _columns(recipe, x.shape[1])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = ((x - mean) / scale)[:, cols]
    clf = LogisticRegression(C=recipe.c / 100, max_iter=3000, class_weight="balanced")
    clf.fit(z, y, sample_weight=w)
    full_w = np.zeros((3, x.shape[1]), dtype=np.float32)
    full_w[:, cols] = clf.coef_
    # Columns a recipe leaves out get zero weight, so every model reads the same feature layout.
    return mean.astype(np.float32), scale.astype(np.float32), full_w, clf.intercept_.astype(np.float32)


def fit_ngram_head(train: Dataset, recipe: Recipe, weights: np.ndarray):
    """(idf, W, b) of a multinomial logistic regression on hashed character n-grams of each
    sentence and its neighbours (no self-training: pseudo-labels did not help this head)."""
    from sklearn.linear_model import LogisticRegression

    idf = document_frequency(train.counts)
    x = as_sparse(with_context(sentence_vectors(train.counts, idf), train.groups))
    clf = LogisticRegression(C=recipe.ngram_c, max_iter=3000, class_weight="balanced")
    clf.fit(x, train.y, sample_weight=weights)
    return idf, clf.coef_.astype(np.float32), clf.intercept_.astype(np.float32)


def transitions(datasets: Sequence[Dataset]) -> np.ndarray:
    """log P(next label | label) within passages (add-one smoothed)."""
    counts = np.ones((3, 3))
    for d in datasets:
        y = d.y
        for group in _groups(d.groups):
            for a, b in zip(group, group[1:]):
                counts[y[a], y[b]] += 1
    return np.log(counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)


def fit_tag_head(d: Dataset, names: Sequence[str]):
    from sklearn.linear_model import LogisticRegression

    sp = [i for i, r in enumerate(d.rows) if r["label"] == "SELLING_POINT" and r.get("tags")]
    w = np.zeros((len(names), d.ctx.shape[1]), dtype=np.float32)
    b = np.full(len(names), -6.0, dtype=np.float32)
    for k, tag in enumerate(names):
        y = np.array([tag in d.rows[i]["tags"] for i in sp])
        if y.sum() >= 2 and (~y).sum() >= 2:
            clf = LogisticRegression(C=0.5, max_iter=2000, class_weight="balanced")
            clf.fit(d.ctx[sp], y)
            w[k], b[k] = clf.coef_[0], clf.intercept_[0]
    return w, b


def fit_category_head(d: Dataset, names: Sequence[str]):
    """Category from a stretch's mean embedding. Mean embeddings all sit close together (E5's
    space is anisotropic), so the head is fitted on standardised means and the standardisation
    is folded back into the weights: the shipped head still reads raw means."""
    from sklearn.linear_model import LogisticRegression

    means, ys = [], []
    for group in _groups(d.groups):
        cat = d.rows[group[0]].get("category")
        if cat in names:
            # Every stretch of 3 to 6 sentences, as the run-time head sees a product's sentences.
            for a in range(0, len(group), 3):
                means.append(d.emb[group[a:a + 6]].mean(axis=0))
                ys.append(names.index(cat))
    x = np.array(means)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    clf = LogisticRegression(C=0.05, max_iter=3000, class_weight="balanced")
    clf.fit((x - mu) / sd, np.array(ys))
    if len(clf.classes_) < 3:
        raise ValueError("the category head needs passages of at least three categories")
    w = np.zeros((len(names), d.emb.shape[1]), dtype=np.float32)
    b = np.full(len(names), -30.0, dtype=np.float32)   # a category never seen is never predicted
    for j, k in enumerate(clf.classes_):
        w[k] = clf.coef_[j] / sd
        b[k] = clf.intercept_[j] - float((clf.coef_[j] / sd) @ mu)
    return w, b


def fit_switch_head(d: Dataset, inputs: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(weights, bias, threshold): the threshold maximises switch F1 in an inner cross-validation
    (switches are rare, about one sentence in fifty, so 0.5 on a balanced model over-fires)."""
    from sklearn.linear_model import LogisticRegression

    firsts = {g[0] for g in _groups(d.groups)}
    idx = np.array([i for i in range(len(d.rows)) if i not in firsts])
    y = np.array([bool(d.rows[i].get("new_product")) for i in idx])
    groups = [d.rows[i]["passage"] for i in idx]

    def model():
        return LogisticRegression(C=1.0, max_iter=3000, class_weight="balanced")

    inner = np.zeros(len(idx))
    for test in grouped_folds(groups, 4, seed=11):
        train = np.setdiff1d(np.arange(len(idx)), test)
        if y[train].any():
            inner[test] = model().fit(inputs[idx[train]], y[train]).predict_proba(inputs[idx[test]])[:, 1]
    threshold = max(np.linspace(0.3, 0.98, 35), key=lambda t: prf(list(y), list(inner >= t))["f1"])
    clf = model().fit(inputs[idx], y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0]), float(threshold)


def switch_junctions(real: Dataset, n_pairs: int, seed: int = 3) -> Dataset:
    """Product switches without a cue: the ends of two real passages from different channels
    joined (6 sentences of one, then 6 of the other), the junction labelled a new product."""
    rng = random.Random(seed)
    groups = [g for g in _groups(real.groups) if len(g) >= 4]
    idx, rows = [], []
    for k in range(n_pairs):
        a, b = rng.sample(groups, 2)
        if real.rows[a[0]].get("channel") == real.rows[b[0]].get("channel"):
            continue
        left, right = a[-6:], b[:6]
        for n, i in enumerate(left + right):
            rows.append({**real.rows[i], "passage": f"join{k}", "new_product": n == len(left)})
            idx.append(i)
    out = Dataset(rows, real.emb[np.asarray(idx)])
    return out
