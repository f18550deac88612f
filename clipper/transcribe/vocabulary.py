"""The words a selling point is made of, heard right.

Whisper base writes homophones for the short terms a host's pitch rests on (试错 -> 是错,
换位思考 -> 换回思考). Two remedies, both fed by one vocabulary: the configured product names
and terms (``transcribe.vocabulary``) and the Chinese words of the category tags
(``configs/categories/*.toml``):

- ``hotwords``: the words go to faster-whisper's ``hotwords`` (a prompt prefix), so the decoder
  prefers them while it listens;
- ``correct``: afterwards, a window of the transcript that *sounds* like a vocabulary word
  (same toneless pinyin, or near it with ``near``) but is written otherwise is rewritten as
  the word. It is deliberately conservative, because a wrong rewrite puts a selling term
  into a sentence that never had it: only windows of the word's length, of two characters or
  more, inside one recogniser segment, that do not cut a word of the surrounding text (jieba)
  and are not themselves a common word (试验 is left alone even though 实验 is a beauty term).

Characters are replaced one for one inside the recogniser's words, so every word keeps its
start and end; each changed word is reported as a ``Correction``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from ..config import Category, available_categories, load_category
from ..types import Correction, Word

log = logging.getLogger(__name__)

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
# Fuzzy pinyin as Chinese input methods offer it (模糊音): the pairs that many speakers,
# hosts from the south especially, do not tell apart, and that Whisper confuses with them.
_NEAR_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_NEAR_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))
# A window that is itself a word this common (jieba's dictionary count) is a real word the
# host said, not a mishearing: 试验 (4648) stays although 实验 is a vocabulary word.
COMMON_WORD_COUNT = 20
# faster-whisper keeps at most 223 tokens of hotwords; a long prompt also slows every window
# and tempts the small model to copy it into silence, so the list is kept short.
HOTWORD_CHARS = 120


def vocabulary(terms: Iterable[str], categories: Sequence[str]) -> tuple[str, ...]:
    """Configured terms first, then the categories' Chinese tag words ("all": every category);
    distinct, in that order."""
    names = available_categories() if "all" in categories else list(categories)
    words = list(terms)
    for name in names:
        words.extend(category_words(load_category(name)))
    return tuple(dict.fromkeys(w.strip() for w in words if w.strip()))


def category_words(category: Category) -> list[str]:
    return [w for tag in category.tags.values() for w in tag.zh]


def hotwords(terms: Sequence[str], limit: int = HOTWORD_CHARS) -> str | None:
    """The terms that fit in ``limit`` characters, in order, as one comma-separated line."""
    out: list[str] = []
    size = 0
    for term in terms:
        if size + len(term) + 1 > limit:
            break
        out.append(term)
        size += len(term) + 1
    return "，".join(out) or None


def syllables(text: str) -> list[str]:
    """The toneless pinyin of ``text`` read in context (one syllable per character)."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(text, style=Style.NORMAL, errors=lambda chars: ["?"] * len(chars))


def near(syllable: str) -> str:
    """A syllable with the fuzzy-pinyin distinctions folded (zhang -> zan, ling -> lin)."""
    for a, b in _NEAR_INITIALS:
        if syllable.startswith(a):
            syllable = b + syllable[len(a):]
            break
    for a, b in _NEAR_FINALS:
        if syllable.endswith(a):
            return syllable[: -len(a)] + b
    return syllable


@lru_cache(maxsize=1)
def _jieba():
    """jieba's tokenizer with its dictionary loaded (about a second, once per process)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def is_common(word: str) -> bool:
    return _jieba().FREQ.get(word, 0) >= COMMON_WORD_COUNT


def token_bounds(text: str) -> set[int]:
    """Offsets in ``text`` where a dictionary word starts or ends."""
    bounds, at = {0}, 0
    for token in _jieba().lcut(text, HMM=False):
        at += len(token)
        bounds.add(at)
    return bounds


class Matcher:
    """Finds windows of a text that sound like a vocabulary word but are written otherwise."""

    def __init__(self, words: Iterable[str], mode: str = "near") -> None:
        if mode not in ("exact", "near"):
            raise ValueError(f"unknown matching mode {mode!r}")
        self.key = near if mode == "near" else (lambda s: s)
        self.words = tuple(w for w in dict.fromkeys(words) if len(w) >= 2 and all(_CJK.match(c) for c in w))
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for word in sorted(self.words, key=len, reverse=True):   # longest first wins a position
            keys = tuple(self.key(s) for s in syllables(word))
            self._by_first.setdefault(keys[0], []).append((word, keys))

    def find(self, text: str) -> list[tuple[int, str]]:
        """(offset, word) for each window of ``text`` (CJK characters only) to rewrite."""
        if not self.words or len(text) < 2:
            return []
        taken = [False] * len(text)
        for word in sorted(self.words, key=len, reverse=True):   # correct already: leave alone
            for m in re.finditer(re.escape(word), text):
                taken[m.start():m.end()] = [True] * len(word)
        # One reading per character, in context (还没 -> hai mei): every reading a character
        # can have (还 also reads fu) turned 还没 into 辅酶, a beauty term.
        keys = [self.key(s) for s in syllables(text)]
        bounds: set[int] | None = None
        found: list[tuple[int, str]] = []
        for i in range(len(text)):
            for word, wkeys in self._by_first.get(keys[i], ()):
                end = i + len(word)
                window = text[i:end]
                if end > len(text) or window == word or any(taken[i:end]):
                    continue
                if tuple(keys[i:end]) != wkeys or is_common(window):
                    continue
                bounds = bounds if bounds is not None else token_bounds(text)
                if i not in bounds or end not in bounds:
                    continue            # the window would cut a word of the sentence
                found.append((i, word))
                taken[i:end] = [True] * len(word)
                break
        return sorted(found)


@dataclass(frozen=True)
class _Char:
    word: int       # index of the recogniser word holding the character
    offset: int     # position inside that word's text


def correct(words: Sequence[Word], segments: Sequence[tuple[float, float, str, int]], matcher: Matcher,
            first_index: int = 0) -> tuple[list[Word], list[tuple[float, float, str, int]], list[Correction]]:
    """Rewrite homophones of the matcher's words in one window's words and segments.

    ``segments`` are (start, end, text, word count) over ``words`` in order; a match never
    spans two segments. Returns the new words and segments and one Correction per changed
    word, indexed from ``first_index`` (the window's first word in the whole transcript).
    """
    texts = [w.text for w in words]
    fixes: dict[int, tuple[str, str]] = {}
    at = 0
    for _, _, _, count in segments:
        for run in _runs(texts, range(at, at + count)):
            for offset, term in matcher.find("".join(texts[c.word][c.offset] for c in run)):
                for n, ch in enumerate(term):
                    c = run[offset + n]
                    old = texts[c.word]
                    texts[c.word] = old[:c.offset] + ch + old[c.offset + 1:]
                    fixes.setdefault(c.word, (words[c.word].text, term))
        at += count
    new_words = [w if texts[i] == w.text else Word(texts[i], w.start, w.end, w.probability)
                 for i, w in enumerate(words)]
    new_segments, at = [], 0
    for start, end, text, count in segments:
        if any(i in fixes for i in range(at, at + count)):
            text = "".join(texts[at:at + count]).strip()
        new_segments.append((start, end, text, count))
        at += count
    corrections = [Correction(first_index + i, heard, texts[i], term)
                   for i, (heard, term) in sorted(fixes.items()) if texts[i] != heard]
    return new_words, new_segments, corrections


def _runs(texts: Sequence[str], indexes: Iterable[int]) -> list[list[_Char]]:
    """Stretches of consecutive CJK characters across the words (punctuation, Latin and
    spaces end a stretch: a word never spans them)."""
    runs: list[list[_Char]] = [[]]
    for i in indexes:
        for offset, ch in enumerate(texts[i]):
            if _CJK.match(ch):
                runs[-1].append(_Char(i, offset))
            elif runs[-1]:
                runs.append([])
    return [r for r in runs if len(r) >= 2]


def describe(corrections: Sequence[Correction]) -> str:
    """One log line: how many words were rewritten, and a few of them."""
    shown = ", ".join(f"{c.heard.strip()}->{c.text.strip()}" for c in corrections[:6])
    return f"{len(corrections)} homophone(s) corrected" + (f": {shown}" if shown else "")

