"""Features of a sentence for the trained segmenter (pure numpy; shared by training and run time).

A sentence is described by its own embedding, the mean embedding of the sentences just
before and just after it in the same passage (hosts' selling points come in runs, and a
"对吧？" means what the sentence before it means), a few signals from the cue-word rules
(their label and how many cues of each kind fired: an ensemble the classifier weighs itself),
and its length. Products switch where the topic shifts: boundary features compare the
sentences before a point with those after it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

from ..types import Label, Segment
from .cues import CueMatcher

CONTEXT = 2              # sentences each side averaged into the context vectors
LOOK_AHEAD = CONTEXT     # the classifier of sentence i reads sentences up to i + LOOK_AHEAD
BOUNDARY_SPAN = 3        # sentences each side compared for a topic shift
RULE_LABELS = (Label.SELLING_POINT, Label.PROMO, Label.CHATTER)
N_RULE_FEATURES = 7


def passage_ranges(passages: Sequence[str]) -> list[tuple[int, int]]:
    """[a, b) index ranges of consecutive equal passage keys."""
    ranges, a = [], 0
    for i in range(1, len(passages) + 1):
        if i == len(passages) or passages[i] != passages[a]:
            ranges.append((a, i))
            a = i
    return ranges


def context_vectors(emb: np.ndarray, passages: Sequence[str], width: int = CONTEXT) -> np.ndarray:
    """[own, mean of the ``width`` before, mean of the ``width`` after] per sentence (zeros at edges)."""
    n, d = emb.shape
    prev = np.zeros((n, d), dtype=np.float32)
    nxt = np.zeros((n, d), dtype=np.float32)
    for a, b in passage_ranges(passages):
        for i in range(a, b):
            if i > a:
                prev[i] = emb[max(a, i - width):i].mean(axis=0)
            if i + 1 < b:
                nxt[i] = emb[i + 1:min(b, i + 1 + width)].mean(axis=0)
    return np.hstack([emb, prev, nxt])


def rule_features(texts: Sequence[str], rules: Sequence[Segment], matcher: CueMatcher) -> np.ndarray:
    """The rules' label (one-hot), log cue counts per kind, a next-product phrase, log length."""
    out = np.zeros((len(texts), N_RULE_FEATURES), dtype=np.float32)
    for i, (text, seg) in enumerate(zip(texts, rules)):
        out[i, RULE_LABELS.index(seg.label)] = 1.0
        tag_hits = sum(len(v) for v in matcher.tag_hits(text).values())
        out[i, 3] = np.log1p(len(matcher.hits("promo", text)))
        out[i, 4] = np.log1p(tag_hits + len(matcher.hits("selling", text)))
        out[i, 5] = np.log1p(len(matcher.hits("chatter", text)))
        out[i, 6] = np.log1p(len(text)) / 4.0
    return out


N_BOUNDARY_FEATURES = 7
_LINK = re.compile(r"([0-9]{1,3}|[一二两三四五六七八九十]{1,3})\s*号(?:链接|链|宝贝)|(?:link|item)\s*(?:number\s*|#\s*)?([0-9]{1,3})",
                   re.IGNORECASE)
_NOT_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def link_number(text: str) -> int | None:
    """The shop link a sentence points at ("三号链接", "link 3"): hosts sell product N from link N."""
    m = _LINK.search(text)
    if not m:
        return None
    token = m.group(1) or m.group(2)
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _DIGITS.get(tens, 1) * 10 + _DIGITS.get(ones, 0)
    return _DIGITS.get(token[0])


def boundary_features(emb: np.ndarray, texts: Sequence[str], passages: Sequence[str], next_phrase: Sequence[bool],
                      links: Sequence[int | None] | None = None, span: int = BOUNDARY_SPAN) -> np.ndarray:
    """Per sentence i: does a new product start at i? [1 - cos(before, after), 1 - cos(i-1, i),
    1 - cos(before, i), the rules' "next product" phrase, names a shop link other than the last
    one named, names a link at all, lexical cohesion gap]. The last is TextTiling's signal:
    character bigrams (weighted by rarity in this stream) shared by the sentences before and
    after i; a new product brings new nouns. Measured on real speech it separates joined
    passages of two products better than embedding distance, which stays high between any two
    stretches of livestream talk. Zeros for a recording's first sentence."""
    n = len(emb)
    links = links if links is not None else [None] * n
    grams = [_bigrams(t) for t in texts]
    df = Counter(g for b in grams for g in b)
    idf = {g: math.log((n + 1) / (c + 0.5)) for g, c in df.items()}
    out = np.zeros((n, N_BOUNDARY_FEATURES), dtype=np.float32)
    for a, b in passage_ranges(passages):
        last_link = links[a]
        for i in range(a + 1, b):
            lo, hi = max(a, i - span), min(b, i + span)
            before = _unit(emb[lo:i].mean(axis=0))
            after = _unit(emb[i:hi].mean(axis=0))
            out[i, 0] = 1.0 - float(before @ after)
            out[i, 1] = 1.0 - float(emb[i - 1] @ emb[i])
            out[i, 2] = 1.0 - float(before @ emb[i])
            out[i, 3] = float(next_phrase[i])
            out[i, 4] = float(links[i] is not None and last_link is not None and links[i] != last_link)
            out[i, 5] = float(links[i] is not None)
            out[i, 6] = 1.0 - _weighted_cosine(sum(grams[lo:i], Counter()), sum(grams[i:hi], Counter()), idf)
            last_link = links[i] if links[i] is not None else last_link
    return out


def category_shift(emb: np.ndarray, passages: Sequence[str], cat_w: np.ndarray, cat_b: np.ndarray,
                   span: int = BOUNDARY_SPAN) -> np.ndarray:
    """Per sentence i: how far the category read from the sentences before i is from the one
    read from i onwards (L1 distance of the category head's distributions, 0..2). A dress
    followed by a serum is a new product whatever words the host uses."""
    out = np.zeros((len(emb), 1), dtype=np.float32)
    for a, b in passage_ranges(passages):
        for i in range(a + 1, b):
            before = softmax(emb[max(a, i - span):i].mean(axis=0, keepdims=True) @ cat_w.T + cat_b)[0]
            after = softmax(emb[i:min(b, i + span)].mean(axis=0, keepdims=True) @ cat_w.T + cat_b)[0]
            out[i, 0] = float(np.abs(before - after).sum())
    return out


def _bigrams(text: str) -> Counter:
    t = _NOT_WORD.sub("", text.lower())
    return Counter(t[k:k + 2] for k in range(len(t) - 1))


def _weighted_cosine(a: Counter, b: Counter, idf: dict[str, float]) -> float:
    dot = sum(v * b[g] * idf[g] ** 2 for g, v in a.items() if g in b)
    na = math.sqrt(sum((v * idf[g]) ** 2 for g, v in a.items()))
    nb = math.sqrt(sum((v * idf[g]) ** 2 for g, v in b.items()))
    return dot / (na * nb) if na and nb else 0.0


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def linear_softmax(x: np.ndarray, mean: np.ndarray, scale: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Class probabilities of a multinomial logistic head on standardised features."""
    return softmax(((x - mean) / scale) @ w.T + b)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def viterbi(probs: np.ndarray, log_trans: np.ndarray, weight: float) -> np.ndarray:
    """Most likely label sequence of one passage: classifier posteriors times learned
    label-to-label transitions. The label head is class-balanced, so its posteriors already act
    as scaled likelihoods (dividing by the class priors again would favour the rare classes)."""
    emit = np.log(np.clip(probs, 1e-9, 1.0))
    n, k = emit.shape
    score = emit[0].copy()
    back = np.zeros((n, k), dtype=np.int64)
    for t in range(1, n):
        cand = score[:, None] + weight * log_trans
        back[t] = cand.argmax(axis=0)
        score = cand.max(axis=0) + emit[t]
    path = np.zeros(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
