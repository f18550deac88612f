"""Subtitle cues from word timestamps, written with pysubs2 as ASS (burned in) and SRT (sidecar).

Cues are short: at most ``max_lines`` lines of ``max_line_chars_*`` reading units, never
splitting a word, always ending at a sentence end or a long pause, so the text on screen
follows the speech. Times are relative to the clip start.
"""

from __future__ import annotations

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
    """Group words into cues; ``sentence_ends`` holds indices (into ``words``) that end sentences."""
    sample = join_words([w.text for w in words])
    limit = cfg.max_line_chars_cjk if is_cjk(sample) else cfg.max_line_chars_latin * 0.5
    cues: list[Cue] = []
    lines: list[list[Word]] = [[]]

    def flush() -> None:
        ws = [w for line in lines for w in line]
        if ws:
            text_lines = tuple(_clean(join_words([w.text for w in line])) for line in lines if line)
            cues.append(Cue(ws[0].start, ws[-1].end, tuple(t for t in text_lines if t)))
        lines[:] = [[]]

    for i, word in enumerate(words):
        if lines[-1] and _width(join_words([w.text for w in lines[-1]] + [word.text])) > limit:
            if len(lines) >= cfg.max_lines:
                flush()
            else:
                lines.append([])
        lines[-1].append(word)
        next_gap = words[i + 1].start - word.end if i + 1 < len(words) else 0.0
        if i in sentence_ends or next_gap >= CUE_PAUSE or ends_sentence(word.text):
            flush()
    flush()
    return _retime(cues, clip_start, clip_end)


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
