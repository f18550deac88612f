"""Cue-word matching for Chinese (substring) and English (whole word, simple inflections)."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ..config import Category, CueSet, Cues, TagSpec
from ..text import is_cjk


def _en_regex(cue: str) -> str:
    words = [re.escape(w) for w in cue.lower().split()]
    return r"(?<![a-z0-9])" + r"\s+".join(words) + r"(?:s|es|ed|d|ing)?(?![a-z0-9])"


def _substring(word: str) -> Callable[[str], bool]:
    return lambda low: word in low


@lru_cache(maxsize=256)
def _compile(cueset: CueSet | TagSpec, lang: str) -> tuple[tuple[str, Callable[[str], object]], ...]:
    """(cue, test) pairs; a Chinese cue word is a plain substring test, several times faster
    than a regex search (category guessing runs every tag's cues over every sentence)."""
    words = cueset.zh if lang == "zh" else cueset.en
    patterns = cueset.zh_patterns if lang == "zh" else cueset.en_patterns
    out: list[tuple[str, Callable[[str], object]]] = []
    for w in words:
        out.append((w, _substring(w.lower()) if lang == "zh" else re.compile(_en_regex(w)).search))
    for p in patterns:
        out.append((p, re.compile(p, re.IGNORECASE).search))
    return tuple(out)


@lru_cache(maxsize=8192)
def _language(text: str) -> str:
    return "zh" if is_cjk(text) else "en"


def find(cueset: CueSet | TagSpec, text: str) -> list[str]:
    """The cues of ``cueset`` found in ``text`` (language chosen from the text's script)."""
    low = text.lower()
    return [cue for cue, test in _compile(cueset, _language(text)) if test(low)]


class CueMatcher:
    def __init__(self, cues: Cues, category: Category | None = None) -> None:
        self.cues = cues
        self.category = category

    def hits(self, group: str, text: str) -> list[str]:
        return find(getattr(self.cues, group), text)

    def tag_hits(self, text: str) -> dict[str, list[str]]:
        if self.category is None:
            return {}
        found = {}
        for tag, spec in self.category.tags.items():
            cues = find(spec, text)
            if cues:
                found[tag] = cues
        return found
