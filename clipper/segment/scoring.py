"""Language-model labels that cannot be malformed: the model scores each allowed answer.

Instead of generating JSON (which small and mid-sized local models often break), the model
reads one sentence with its neighbours and we compare the likelihood it gives to each allowed
continuation: the three labels, then, for a selling point, each tag of the category. The
answer is always one of the allowed values; its probabilities can be combined with the
trained backend's (see ``combine.py``). Scores are cached like generated replies.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Protocol, Sequence

import numpy as np

from ..config import Category
from ..types import Label, Segment
from .features import softmax
from .item import Item
from .llm import ReplyCache

log = logging.getLogger(__name__)

SCORING_VERSION = "1"
LABEL_WORDS = {Label.SELLING_POINT: "selling point", Label.PROMO: "promotion", Label.CHATTER: "chatter"}
LABEL_PROMPT = """A livestream host is selling {category}. Classify the marked sentence of the host's speech.
- selling point: about the product itself (what it is made of, what is in it, what it does, how it feels, fits or looks, who it suits, how to use it, proof of quality)
- promotion: about the deal (price, discount, coupon, gift, stock, link, how to order, guarantee)
- chatter: anything else (greetings, thanks, asking for follows, small talk, filler)

{context}
Marked sentence: >>> {sentence} <<<
The marked sentence is a"""
TAG_PROMPT = """A livestream host is selling {category}. The sentence below is a selling point. Aspects:
{tags}

Sentence: {sentence}
The aspect it is mainly about:"""
SECOND_TAG = 0.35     # a second or third tag is kept when its probability is at least this


class Scorer(Protocol):
    name: str

    def score(self, prompt: str, continuations: Sequence[str]) -> np.ndarray:
        """Mean log-probability per token of each continuation after ``prompt``."""
        ...


class ScoringClassifier:
    def __init__(self, scorer: Scorer, category: Category, cache: ReplyCache) -> None:
        self.scorer, self.category, self.cache = scorer, category, cache
        self.name = scorer.name
        self.probs = np.zeros((0, 3))
        self.fallbacks: list = []

    def _scores(self, prompt: str, options: Sequence[str]) -> np.ndarray:
        key = hashlib.sha256(json.dumps([self.name, SCORING_VERSION, prompt, list(options)],
                                        ensure_ascii=False).encode()).hexdigest()
        cached = self.cache.get(key)
        if cached is not None:
            values = json.loads(cached)
            if isinstance(values, list) and len(values) == len(options):
                return np.asarray(values, dtype=float)
        values = np.asarray(self.scorer.score(prompt, [" " + o for o in options]), dtype=float)
        self.cache.put(key, json.dumps(values.tolist()))
        return values

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        labels = list(LABEL_WORDS)
        what = self.category.description.split(":")[0].rstrip(".").lower()
        tag_names = list(self.category.tags) + ["other"]
        tag_lines = "\n".join(f"- {name}: {spec.description}" for name, spec in self.category.tags.items())
        tag_lines += "\n- other: none of the above"
        probs, out = [], []
        for i, item in enumerate(items):
            before = [it.text for it in items[max(0, i - 2):i] if it.passage == item.passage]
            after = [it.text for it in items[i + 1:i + 2] if it.passage == item.passage]
            context = "\n".join(["Speech around it:"] + before + [item.text] + after)
            p = softmax(self._scores(LABEL_PROMPT.format(category=what, context=context, sentence=item.text),
                                     [LABEL_WORDS[label] for label in labels])[None])[0]
            probs.append(p)
            label = labels[int(p.argmax())]
            tags: tuple[str, ...] = ()
            if label is Label.SELLING_POINT:
                t = softmax(self._scores(TAG_PROMPT.format(category=what, tags=tag_lines, sentence=item.text),
                                         tag_names)[None])[0]
                order = np.argsort(-t)
                tags = tuple(tag_names[j] for k, j in enumerate(order[:3]) if k == 0 or t[j] >= SECOND_TAG)
            out.append(Segment(item.id, label, tags, score=round(float(p.max()), 3), backend=self.name))
        self.probs = np.array(probs).reshape(-1, 3)
        return out
