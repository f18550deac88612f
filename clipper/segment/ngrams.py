"""Hashed character n-grams of a sentence and its neighbours (pure Python + numpy).

The trained backend's second opinion: a linear head on TF-IDF weighted character 1-3 grams of
the sentence, of the sentence before it and of the sentence after it. Each n-gram is hashed
(CRC-32) into ``BUCKETS`` buckets, so what ships is one weight per bucket and class and one
inverse document frequency per bucket: numbers, never the words they were learned from.

Embeddings generalise across wordings; n-grams see the particles, numerals and shop phrases
("拍", "链接", "对吧") that a sentence embedding blurs. Averaging the two heads' probabilities
beats either alone by grouped cross-validation over real passages (see the README).
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from typing import Sequence

import numpy as np

from .features import passage_ranges

BUCKETS = 1 << 16
NGRAMS = (1, 2, 3)
NEIGHBOUR_WEIGHT = 0.5      # the previous and next sentences' n-grams, each in its own block
BLOCKS = 3                  # own, previous, next


def _grams(text: str) -> Counter:
    t = " ".join(text.lower().split())
    out: Counter = Counter()
    for n in NGRAMS:
        for k in range(len(t) - n + 1):
            out[zlib.crc32(t[k:k + n].encode("utf-8")) & (BUCKETS - 1)] += 1
    return out


def term_counts(texts: Sequence[str]) -> list[Counter]:
    return [_grams(t) for t in texts]


MIN_DF = 2                  # a bucket seen in a single training sentence is left out (weight 0)


def document_frequency(counts: Sequence[Counter], min_df: int = MIN_DF) -> np.ndarray:
    """Smoothed inverse document frequency per bucket (scikit-learn's formula); 0 for buckets
    seen in fewer than ``min_df`` training sentences, so they never count."""
    df = np.zeros(BUCKETS, dtype=np.float64)
    for c in counts:
        df[list(c.keys())] += 1
    n = len(counts)
    idf = np.log((1 + n) / (1 + df)) + 1
    return np.where(df >= min_df, idf, 0.0).astype(np.float32)


def sentence_vectors(counts: Sequence[Counter], idf: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(bucket indices, L2-normalised sublinear tf-idf values) per sentence."""
    out = []
    for c in counts:
        idx = np.fromiter(c.keys(), dtype=np.int64, count=len(c))
        val = np.array([1.0 + math.log(v) for v in c.values()], dtype=np.float32) * idf[idx]
        idx, val = idx[val > 0], val[val > 0]
        norm = float(np.linalg.norm(val))
        out.append((idx, val / norm if norm > 0 else val))
    return out


def with_context(vectors: Sequence[tuple[np.ndarray, np.ndarray]], passages: Sequence[str]
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each sentence's own block, then its previous and next sentences' blocks (same passage)."""
    out = []
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    for a, b in passage_ranges(passages):
        for i in range(a, b):
            prev = vectors[i - 1] if i > a else empty
            nxt = vectors[i + 1] if i + 1 < b else empty
            out.append((np.concatenate([vectors[i][0], prev[0] + BUCKETS, nxt[0] + 2 * BUCKETS]),
                        np.concatenate([vectors[i][1], NEIGHBOUR_WEIGHT * prev[1], NEIGHBOUR_WEIGHT * nxt[1]])))
    return out


def features(texts: Sequence[str], passages: Sequence[str], idf: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return with_context(sentence_vectors(term_counts(texts), idf), passages)


def as_sparse(rows: Sequence[tuple[np.ndarray, np.ndarray]]):
    """A SciPy CSR matrix of the rows (training only)."""
    from scipy.sparse import csr_matrix

    indptr = np.cumsum([0] + [len(i) for i, _ in rows])
    idx = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, np.int64)
    val = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, np.float32)
    return csr_matrix((val, idx, indptr), shape=(len(rows), BLOCKS * BUCKETS))


def scores(rows: Sequence[tuple[np.ndarray, np.ndarray]], w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Linear scores (n, classes) of sparse rows with weights ``w`` (classes, BLOCKS * BUCKETS)."""
    out = np.zeros((len(rows), len(b)), dtype=np.float32)
    for k, (idx, val) in enumerate(rows):
        out[k] = w[:, idx].astype(np.float32) @ val + b
    return out
