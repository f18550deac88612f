"""Small pure helpers for mixed Chinese/English text."""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+(?:['’.-][A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+)*")

STRONG_END = "。！？!?；;…"
SOFT_END = "，,、：:"


def cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def is_cjk(text: str) -> bool:
    """True when CJK characters outnumber Latin words."""
    return cjk_count(text) >= len(_LATIN_WORD.findall(_CJK.sub(" ", text))) and cjk_count(text) > 0


def units(text: str) -> int:
    """Length in reading units: one per CJK character, one per Latin/Cyrillic word."""
    return cjk_count(text) + len(_LATIN_WORD.findall(_CJK.sub(" ", text)))


def ends_sentence(token: str) -> bool:
    """Does a word token close a sentence? ("3.5" and "e.g." do not; "well." does.)"""
    t = token.strip().rstrip("\"'”’)）」』")
    if not t:
        return False
    if t[-1] in STRONG_END:
        return True
    if t.endswith(".") and not t.endswith(".."):
        body = t[:-1]
        return bool(body) and not re.fullmatch(r"(?i)(mr|mrs|ms|dr|st|vs|etc|e\.g|i\.e|no)", body)
    return t.endswith("...")


def ends_clause(token: str) -> bool:
    t = token.strip()
    return bool(t) and t[-1] in SOFT_END


def join_words(tokens: list[str]) -> str:
    """Join recogniser word tokens: Latin tokens carry their own leading space, CJK ones none."""
    return "".join(tokens).strip()
