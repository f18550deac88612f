"""Subtitle cues from word timestamps, written with pysubs2 as ASS (burned in) and SRT (sidecar).

Cues are short: at most ``max_lines`` lines of ``max_line_chars_*`` reading units, never
splitting a word, always ending at a sentence end or a long pause, so the text on screen
follows the speech. Times are relative to the clip start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pysubs2

from ..config import RenderConfig
from ..text import cjk_count, ends_clause, ends_sentence, is_cjk, join_words
from ..types import Word

CUE_PAUSE = 0.6        # a pause this long always starts a new cue
LINGER = 0.4           # a cue stays up this much after its last word (if the next allows)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _width(text: str) -> float:
    """Display width in CJK-character units (a Latin letter is about half a CJK character)."""
    n_cjk = cjk_count(text)
    return n_cjk + (len(text) - n_cjk) * 0.5


def build_cues(words: Sequence[Word], sentence_ends: set[int], clip_start: float, clip_end: float,
               cfg: RenderConfig) -> list[Cue]:
    """Group words into cues; ``sentence_ends`` holds indices (into ``words``) that end sentences.

    Speech is first cut into phrases (sentence ends, pauses); a phrase too long for one cue is
    split into the fewest cues that hold it, of balanced length, and each cue into balanced
    lines, so there is no one-word widow line or cue.
    """
    sample = join_words([w.text for w in words])
    limit = cfg.max_line_chars_cjk if is_cjk(sample) else cfg.max_line_chars_latin * 0.5
    cues: list[Cue] = []
    for phrase in _phrases(words, sentence_ends):
        n_cues = math.ceil(_width(_text(phrase)) / (limit * cfg.max_lines))
        for part in _balanced(phrase, n_cues):
            n_lines = min(cfg.max_lines, math.ceil(_width(_text(part)) / limit))
            lines = tuple(t for t in (_clean(_text(line)) for line in _balanced(part, n_lines)) if t)
            if lines:
                cues.append(Cue(part[0].start, part[-1].end, lines))
    return _retime(cues, clip_start, clip_end)


def _text(words: Sequence[Word]) -> str:
    return join_words([w.text for w in words])


def _phrases(words: Sequence[Word], sentence_ends: set[int]) -> list[list[Word]]:
    phrases: list[list[Word]] = [[]]
    for i, word in enumerate(words):
        phrases[-1].append(word)
        next_gap = words[i + 1].start - word.end if i + 1 < len(words) else 0.0
        if i in sentence_ends or next_gap >= CUE_PAUSE or ends_sentence(word.text):
            phrases.append([])
    return [p for p in phrases if p]


def _balanced(words: list[Word], parts: int) -> list[list[Word]]:
    """Split ``words`` into ``parts`` runs of about equal width, never inside a word."""
    if parts <= 1 or len(words) <= 1:
        return [words]
    widths = [_width(w.text) for w in words]
    total = sum(widths)
    out: list[list[Word]] = [[]]
    done = 0.0
    for word, width in zip(words, widths):
        # Start a new run once this word would carry the current one past its share.
        if out[-1] and len(out) < parts and done + width / 2 > total * len(out) / parts:
            out.append([])
        out[-1].append(word)
        done += width
    return out


def _clean(line: str) -> str:
    """Trim a line; drop trailing commas/full stops from CJK lines (subtitle convention)."""
    line = line.strip()
    if is_cjk(line):
        while line and (line[-1] in "，。、" or ends_clause(line[-1])):
            line = line[:-1]
    return line


def _retime(cues: list[Cue], clip_start: float, clip_end: float) -> list[Cue]:
    """Shift to clip time, let each cue linger a little, and never overlap the next."""
    duration = clip_end - clip_start
    out = []
    for i, cue in enumerate(cues):
        start = max(0.0, cue.start - clip_start)
        end = min(duration, cue.end - clip_start + LINGER)
        if i + 1 < len(cues):
            end = min(end, cues[i + 1].start - clip_start)
        if end - start >= 0.05 and cue.lines:
            out.append(Cue(round(start, 3), round(end, 3), cue.lines))
    return out


def to_ssa(cues: Sequence[Cue], cfg: RenderConfig) -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(cfg.width)
    subs.info["PlayResY"] = str(cfg.height)
    subs.info["WrapStyle"] = "2"  # we break lines ourselves; libass must not re-wrap
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=cfg.font, fontsize=cfg.font_size, bold=True, outline=cfg.outline, shadow=1.0,
        primarycolor=pysubs2.Color(255, 255, 255), outlinecolor=pysubs2.Color(0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 128), alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=60, marginr=60, marginv=cfg.margin_v)
    for cue in cues:
        text = r"\N".join(line.replace("{", "(").replace("}", ")") for line in cue.lines)
        subs.append(pysubs2.SSAEvent(start=int(cue.start * 1000), end=int(cue.end * 1000), text=text))
    return subs


def write_subtitles(cues: Sequence[Cue], cfg: RenderConfig, ass_path: Path, srt_path: Path) -> None:
    subs = to_ssa(cues, cfg)
    subs.save(str(ass_path), format_="ass", encoding="utf-8")
    subs.save(str(srt_path), format_="srt", encoding="utf-8")
