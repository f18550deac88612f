"""Real host speech as training and evaluation data, without its text entering the repository.

The salestalk transcripts (``../shared/salestalk/live_asr_zh.json``) may be studied but not
copied, so labels are stored as *keys*: the transcript's file name, a character span and a
short hash of the span's text. At training or evaluation time the text is read back from the
shared file and checked against the hash, so a changed transcript is noticed instead of
silently training on the wrong words.

Sentences are cut from the recogniser's punctuation the way ``sentences.py`` cuts timed words:
strong marks end a sentence, and a run-on longer than ``max_chars`` is split at the clause
mark nearest its middle, so the unit a model is trained on is the unit it sees at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from ..text import SOFT_END, STRONG_END

MAX_CHARS = 48          # configs/default.toml sentences.max_chars_cjk
MIN_CHARS = 2           # shorter pieces ("好。") join the sentence before them
SALESTALK = "salestalk/live_asr_zh.json"


def shared_dir() -> Path:
    """``../shared`` beside the repository (or ``$CLIPPER_SHARED``)."""
    env = os.environ.get("CLIPPER_SHARED")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "shared"


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def split_spans(text: str, max_chars: int = MAX_CHARS) -> list[tuple[int, int]]:
    """Character spans [a, b) of the sentences in ``text`` (punctuation included, spaces not)."""
    spans: list[tuple[int, int]] = []
    a = 0
    for i, ch in enumerate(text):
        if ch in STRONG_END and (i + 1 == len(text) or text[i + 1] not in STRONG_END):
            spans.append((a, i + 1))
            a = i + 1
    if a < len(text):
        spans.append((a, len(text)))
    out: list[tuple[int, int]] = []
    for span in spans:
        span = _strip(text, span)
        if span[1] - span[0] < MIN_CHARS and out:
            out[-1] = (out[-1][0], span[1])
        elif span[1] > span[0]:
            out.extend(_split_long(text, span, max_chars))
    return out


def _strip(text: str, span: tuple[int, int]) -> tuple[int, int]:
    a, b = span
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _split_long(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    a, b = span
    if b - a <= max_chars:
        return [span]
    mid = (a + b) / 2
    marks = [i for i in range(a + max_chars // 5, b - max_chars // 5) if text[i] in SOFT_END]
    cut = (min(marks, key=lambda i: abs(i - mid)) + 1) if marks else int(mid)
    return _split_long(text, (a, cut), max_chars) + _split_long(text, _strip(text, (cut, b)), max_chars)


@dataclass(frozen=True)
class Passage:
    """One transcript: about a minute of one host's speech."""

    file: str
    channel: str
    platform: str
    text: str

    def sentences(self) -> list[tuple[tuple[int, int], str]]:
        return [((a, b), self.text[a:b]) for a, b in split_spans(self.text)]


def load_salestalk(root: Path | None = None) -> dict[str, Passage]:
    """The shared transcripts by file name; ConfigError when they are not there."""
    path = (root or shared_dir()) / SALESTALK
    if not path.is_file():
        raise ConfigError("the salestalk transcripts are not available", path=str(path))
    rows = json.loads(path.read_text(encoding="utf-8"))
    return {r["file_name"]: Passage(r["file_name"], r.get("chanel_name", ""), r.get("plat_name", ""),
                                    r.get("asr_result_para") or "")
            for r in rows if r.get("asr_result_para")}


def resolve(labels: Iterable[dict], passages: dict[str, Passage]) -> list[dict]:
    """Labelled rows with their text put back: ``{id, passage, text, label, tags, ...}``.

    Rows keep the order of the label file (passages contiguous, sentences in order). A key
    whose text no longer matches its hash is an error: the labels were made on other words.
    """
    out = []
    for row in labels:
        passage = passages.get(row["file"])
        if passage is None:
            raise ConfigError(f"labelled file {row['file']} is not in the salestalk transcripts")
        a, b = row["span"]
        text = passage.text[a:b]
        if text_hash(text) != row["sha1"]:
            raise ConfigError(f"labelled span {row['file']}:{a}-{b} no longer matches its text")
        out.append({**row, "id": f"{row['file']}:{a}-{b}", "passage": row["file"], "text": text,
                    "channel": passage.channel})
    return out


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise ConfigError(f"line {n}: not JSON ({exc})", path=str(path)) from None
    return rows

