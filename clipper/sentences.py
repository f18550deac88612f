"""Sentences from timed words: Transcript -> SentenceList.

Whisper gives Chinese text with few or no punctuation marks, and English with punctuation
but long run-ons, so a sentence ends at whichever comes first: strong punctuation, a long
pause, or the end of a recogniser segment followed by a short pause. Over-long sentences are
split at their widest pause; a new passage (consecutive speech) starts after a long silence.
"""

from __future__ import annotations

from .config import SentencesConfig
from .text import ends_clause, ends_sentence, is_cjk, join_words, units
from .types import Sentence, SentenceList, Transcript, Word


def split_sentences(transcript: Transcript, cfg: SentencesConfig) -> SentenceList:
    words = transcript.words
    if not words:
        return SentenceList(transcript.language, ())
    segment_ends = {seg.last_word for seg in transcript.segments}
    spans: list[tuple[int, int]] = []
    first = 0
    for i, word in enumerate(words):
        gap = words[i + 1].start - word.end if i + 1 < len(words) else float("inf")
        if (ends_sentence(word.text) or gap >= cfg.max_pause
                or (i in segment_ends and gap >= cfg.soft_pause)):
            spans.append((first, i))
            first = i + 1
    spans = [piece for span in spans for piece in _split_long(words, span, cfg, segment_ends)]

    sentences: list[Sentence] = []
    passage = 0
    for n, (a, b) in enumerate(spans):
        if sentences and words[a].start - sentences[-1].end >= cfg.passage_gap:
            passage += 1
        text = join_words([w.text for w in words[a:b + 1]])
        sentences.append(Sentence(id=f"s{n + 1:05d}", start=words[a].start, end=words[b].end,
                                  text=text, first_word=a, last_word=b, passage=passage))
    return SentenceList(transcript.language, tuple(sentences))


def _too_long(words: tuple[Word, ...], a: int, b: int, cfg: SentencesConfig) -> bool:
    text = join_words([w.text for w in words[a:b + 1]])
    limit = cfg.max_chars_cjk if is_cjk(text) else cfg.max_words
    return units(text) > limit


def _split_long(words: tuple[Word, ...], span: tuple[int, int], cfg: SentencesConfig,
                segment_ends: set[int]) -> list[tuple[int, int]]:
    """Split an over-long span at its widest pause (a clause mark or the end of a recogniser
    segment counts as extra pause). Whisper's word times often hide a pause (the next word's
    start absorbs it) and Chinese comes without punctuation; its segment end is then the only
    trace of the sentence break, where widest-pause alone cut inside a word pair (这条高|腰)."""
    a, b = span
    if b <= a or not _too_long(words, a, b, cfg):
        return [span]
    n = b - a + 1
    lo, hi = a + max(1, n // 5), b - max(1, n // 5)  # keep both halves substantial

    def weight(i: int) -> float:
        return (words[i + 1].start - words[i].end) + (0.5 if ends_clause(words[i].text) else 0.0) \
            + (0.5 if i in segment_ends else 0.0)

    cut = max(range(lo, max(lo, hi) + 1), key=weight) if hi >= lo else (a + b) // 2
    cut = min(max(cut, a), b - 1)
    return _split_long(words, (a, cut), cfg, segment_ends) + _split_long(words, (cut + 1, b), cfg, segment_ends)
