"""Cue-word matching for Chinese (substring) and English (whole word, simple inflections)."""

from __future__ import annotations

import re
from functools import lru_cache

from ..config import Category, CueSet, Cues, TagSpec
from ..text import is_cjk


def _en_regex(cue: str) -> str:
    words = [re.escape(w) for w in cue.lower().split()]
    return r"(?<![a-z0-9])" + r"\s+".join(words) + r"(?:s|es|ed|d|ing)?(?![a-z0-9])"


@lru_cache(maxsize=256)
def _compile(cueset: CueSet | TagSpec, lang: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    words = cueset.zh if lang == "zh" else cueset.en
    patterns = cueset.zh_patterns if lang == "zh" else cueset.en_patterns
    out = []
    for w in words:
        out.append((w, re.compile(re.escape(w.lower()) if lang == "zh" else _en_regex(w))))
    for p in patterns:
        out.append((p, re.compile(p, re.IGNORECASE)))
    return tuple(out)


def find(cueset: CueSet | TagSpec, text: str) -> list[str]:
    """The cues of ``cueset`` found in ``text`` (language chosen from the text's script)."""
    lang = "zh" if is_cjk(text) else "en"
    low = text.lower()
    return [cue for cue, rx in _compile(cueset, lang) if rx.search(low)]


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
