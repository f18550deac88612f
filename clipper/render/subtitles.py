"""Subtitle cues from word timestamps, written with pysubs2 as ASS (burned in) and SRT (sidecar).

Cues are short: at most ``max_lines`` lines of ``max_line_chars_*`` reading units, never
splitting a word, always ending at a sentence end or a long pause, so the text on screen
follows the speech. Times are relative to the clip start.

Text is text: everything drawn (words, titles, labels, remix cards) goes into ASS through
``ass_text`` only, so braces, ``\\N``, ``\\h`` and backslashes from a recogniser or a user show as
typed and never act as libass markup. The SRT sidecars hold the plain text (``write_srt``).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import pysubs2

from ..config import RenderConfig
from ..text import cjk_count, ends_clause, ends_sentence, is_cjk, join_words
from ..types import Word
from .chinese import NO_LINE_START, in_spoken_number, subtitle_line, subtitle_word

CUE_PAUSE = 0.6        # a pause this long always starts a new cue
LINGER = 0.4           # a cue stays up this much after its last word (if the next allows)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    words: tuple[tuple[Word, ...], ...] = ()   # per line, for the karaoke highlight

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
        width = _width(_text(phrase))
        n_cues = math.ceil(width / (limit * cfg.max_lines))
        if is_cjk(sample) and width > 0.9 * n_cues * limit * cfg.max_lines:
            n_cues += 1   # a nearly full cue leaves no room to break lines between words
        for part in _balanced(phrase, n_cues, limit * cfg.max_lines):
            n_lines = min(cfg.max_lines, math.ceil(_width(_text(part)) / limit))
            split = [line for line in _balanced(part, n_lines, limit) if _clean(_text(line))]
            if split:
                cues.append(Cue(part[0].start, part[-1].end, tuple(_clean(_text(line)) for line in split),
                                tuple(tuple(line) for line in split)))
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


def _inside_words(words: Sequence[Word]) -> set[int]:
    """Indices ``i`` of recogniser words after which a break would split a Chinese word.

    Whisper's Chinese "words" are single characters or pieces (这|条|高腰|阔腿裤), so the
    words of the language come from jieba's dictionary; Latin text breaks at spaces."""
    text = _text(words)
    if not is_cjk(text):
        return set()
    ends, at = set(), 0
    for token in _jieba().cut(text):
        at += len(token)
        ends.add(at)
    inside, at = set(), 0
    for i, w in enumerate(words[:-1]):
        at += len(w.text)
        if at not in ends:
            inside.add(i)
    return inside


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def _balanced(words: list[Word], parts: int, limit: float = math.inf) -> list[list[Word]]:
    """Split ``words`` into ``parts`` runs of about equal width, never inside a word.

    Each break goes to the word boundary nearest its share of the width, preferring one after
    a comma or clause mark when that is within a third of a share: lines then end on a pause.
    A break inside a Chinese word or one that leaves a run wider than ``limit`` is taken
    only when there is no other.
    """
    if parts <= 1 or len(words) <= 1:
        return [words]
    inside = _inside_words(words)
    widths = [_width(w.text) for w in words]
    total = sum(widths)
    share = total / parts
    cum, running = [], 0.0
    for width in widths:
        running += width
        cum.append(running)  # width up to and including word i
    breaks: list[int] = []

    def cost(i: int, k: int, before: float) -> float:
        bonus = share / 3 if ends_clause(words[i].text) else 0.0
        # Never between the words of a spoken number (三十九|块|九): it is drawn as 39.9元.
        penalty = share * 10 if in_spoken_number(words[i].text, words[i + 1].text) else 0.0
        penalty += share * 2 if i in inside else 0.0
        # Neither this run nor (on average) the runs after it wider than the limit.
        too_wide = cum[i] - before > limit + 1e-9 or (total - cum[i]) / (parts - k) > limit + 1e-9
        penalty += share * 4 if too_wide else 0.0
        return abs(cum[i] - share * k) - bonus + penalty

    for k in range(1, parts):
        lo = breaks[-1] + 1 if breaks else 0
        candidates = range(lo, len(words) - (parts - k))
        if not candidates:
            break
        before = cum[breaks[-1]] if breaks else 0.0
        breaks.append(min(candidates, key=lambda i: cost(i, k, before)))
    out, start = [], 0
    for b in breaks:
        out.append(words[start:b + 1])
        start = b + 1
    out.append(words[start:])
    return [run for run in out if run]


def _clean(line: str) -> str:
    """Trim a line; a Chinese line as a Chinese viewer expects it (``chinese.subtitle_line``)."""
    line = line.strip()
    return subtitle_line(line) if is_cjk(line) else line


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
            shifted = tuple(tuple(Word(w.text, w.start - clip_start, w.end - clip_start) for w in line)
                            for line in cue.words)
            out.append(Cue(round(start, 3), round(end, 3), cue.lines, shifted))
    return out


def _color(hex_rgb: str, alpha: int = 0) -> pysubs2.Color:
    return pysubs2.Color(int(hex_rgb[1:3], 16), int(hex_rgb[3:5], 16), int(hex_rgb[5:7], 16), alpha)


_LABEL_ALIGN = {"top-left": pysubs2.Alignment.TOP_LEFT, "top-right": pysubs2.Alignment.TOP_RIGHT,
                "bottom-left": pysubs2.Alignment.BOTTOM_LEFT, "bottom-right": pysubs2.Alignment.BOTTOM_RIGHT}


_WORD_JOINER = "\u2060"   # invisible, zero width; HarfBuzz draws nothing for it in any font


def ass_text(text: str, newlines: bool = True) -> str:
    """``text`` as the text of an ASS event, shown exactly as given: the one ASS escape.

    Braces become ``\\{`` ``\\}`` (libass draws them; bare, they open an override block). A
    backslash is followed by a word joiner, so ``\\N``, ``\\n``, ``\\h`` in the text, or a
    backslash before the next tag or line break, are never read as commands. A line break
    becomes ``\\N`` (a space with ``newlines=False``).
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\" + _WORD_JOINER)
        elif ch in "{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append(r"\N" if newlines else " ")
        elif ch != "\r":
            out.append(ch)
    return "".join(out)


def _karaoke(cue: Cue, line: int) -> str:
    """ASS karaoke: each word turns from the text colour to the highlight as it is spoken."""
    out, t = [], cue.start
    words = cue.words[line]
    chinese = is_cjk(cue.lines[line])
    for i, w in enumerate(words):
        text = w.text.lstrip() if i == 0 else w.text
        if chinese:   # drawn word by word: script and punctuation, not the line's numbers
            text = subtitle_word(text)
            text = text.lstrip(NO_LINE_START) if i == 0 else text
            text = text.rstrip("，。、；：") if i == len(words) - 1 else text
        out.append(f"{{\\k{max(1, round((w.end - t) * 100))}}}{ass_text(text, newlines=False)}")
        t = w.end
    return "".join(out)


def to_ssa(cues: Sequence[Cue], cfg: RenderConfig, duration: float = 0.0, title: str = "") -> pysubs2.SSAFile:
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(cfg.width)
    subs.info["PlayResY"] = str(cfg.height)
    subs.info["WrapStyle"] = "2"  # we break lines ourselves; libass must not re-wrap
    text, outline = _color(cfg.text_color), _color(cfg.outline_color)
    # With karaoke, words start in the secondary colour and take the primary as they are sung.
    primary, secondary = (_color(cfg.highlight_color), text) if cfg.karaoke else (text, text)
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname=cfg.font, fontsize=cfg.font_size, bold=cfg.bold, outline=cfg.outline, shadow=1.0,
        primarycolor=primary, secondarycolor=secondary, outlinecolor=outline,
        backcolor=pysubs2.Color(0, 0, 0, 128), alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=cfg.margin_h, marginr=cfg.margin_h, marginv=cfg.margin_v)
    subs.styles["Title"] = pysubs2.SSAStyle(
        fontname=cfg.font, fontsize=cfg.title_size, bold=True, outline=cfg.outline + 1, shadow=2.0,
        primarycolor=_color(cfg.highlight_color), outlinecolor=outline, alignment=pysubs2.Alignment.TOP_CENTER,
        marginl=cfg.margin_h, marginr=cfg.margin_h, marginv=int(cfg.height * 0.09))
    subs.styles["Label"] = pysubs2.SSAStyle(
        fontname=cfg.font, fontsize=max(12, int(cfg.font_size * 0.42)), bold=False, outline=1.5, shadow=0.0,
        primarycolor=pysubs2.Color(255, 255, 255, 40), outlinecolor=pysubs2.Color(0, 0, 0, 60),
        alignment=_LABEL_ALIGN[cfg.ai_label_position], marginl=cfg.margin_h // 2, marginr=cfg.margin_h // 2,
        marginv=int(cfg.height * 0.025))
    end_ms = int(duration * 1000) if duration else max((int(c.end * 1000) for c in cues), default=0)
    if title:
        subs.append(pysubs2.SSAEvent(start=0, end=end_ms, text=ass_text(title, newlines=False), style="Title"))
    if cfg.ai_label and cfg.ai_label_text:
        subs.append(pysubs2.SSAEvent(start=0, end=end_ms, text=ass_text(cfg.ai_label_text, newlines=False),
                                     style="Label"))
    for cue in cues:
        if cfg.karaoke and cue.words:
            body = r"\N".join(_karaoke(cue, i) for i in range(len(cue.lines)))
        else:
            body = r"\N".join(ass_text(line, newlines=False) for line in cue.lines)
        subs.append(pysubs2.SSAEvent(start=int(cue.start * 1000), end=int(cue.end * 1000), text=body))
    return subs


def write_subtitles(cues: Sequence[Cue], cfg: RenderConfig, ass_path: Path, srt_path: Path,
                    duration: float = 0.0, title: str = "") -> None:
    """ASS with everything burned in; SRT with the speech only (what a platform's captions want)."""
    to_ssa(cues, cfg, duration, title).save(str(ass_path), format_="ass", encoding="utf-8")
    write_srt([(c.start, c.end, c.text) for c in cues], srt_path)


def _srt_time(seconds: float) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def write_srt(cues: Sequence[tuple[float, float, str]], path: Path) -> None:
    """SubRip of (start, end, text) in seconds, the text as it is (no markup is stripped or added)."""
    blocks = [f"{n}\n{_srt_time(a)} --> {_srt_time(b)}\n{text.strip()}\n"
              for n, (a, b, text) in enumerate(sorted(cues, key=lambda c: c[0]), 1) if text.strip()]
    path.write_text("\n".join(blocks), encoding="utf-8")


_SRT_TIME = re.compile(r"(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})")


def read_srt(path: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of a SubRip file, the text as written; ValueError if it is none."""
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = block.split("\n")
        at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if at is None:
            continue
        m = _SRT_TIME.search(lines[at])
        if not m:
            raise ValueError(f"bad cue time: {lines[at]!r}")
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + int(m.group(4).ljust(3, "0")) / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + int(m.group(8).ljust(3, "0")) / 1000
        cues.append((start, end, "\n".join(lines[at + 1:]).strip()))
    if text.strip() and not cues:
        raise ValueError("no SubRip cues")
    return cues
