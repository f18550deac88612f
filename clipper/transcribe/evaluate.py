"""Measuring a Mandarin transcript: character error rate, and errors on chosen words.

Both sides are normalised the same way before they are compared, so that only what a viewer
would read as a different word counts: traditional script -> simplified, punctuation and
spaces dropped, Latin letters lower-cased, and Arabic numbers written out as they are read
("50%" -> 百分之五十, "13" -> 十三), because Whisper writes numbers either way and the
references write them as spoken.

References are kept out of the repository's text (their audio is third-party content): each
is an edit script against the rough machine transcript in ``../shared/media/transcripts/``,
rebuilt here and checked by hash (``load_reference``; ``make_edits`` writes one).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..text import to_simplified

_DIGITS = "零一二三四五六七八九"
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(%?)")
_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffA-Za-z]")
_ROUGH_LINE = re.compile(r"^\[\s*[\d.]+-\s*[\d.]+\]\s?(.*)$")


def spoken_number(digits: str) -> str:
    """An Arabic number as Mandarin reads it: 13 -> 十三, 205 -> 二百零五, 3.5 -> 三点五."""
    whole, _, frac = digits.partition(".")
    out = _spoken_int(int(whole)) if whole else "零"
    return out + ("点" + "".join(_DIGITS[int(d)] for d in frac) if frac else "")


def _spoken_int(n: int) -> str:
    if n == 0:
        return "零"
    if n >= 10**8:
        return _spoken_int(n // 10**8) + "亿" + _pad(n % 10**8, 10**7)
    if n >= 10**4:
        return _spoken_int(n // 10**4) + "万" + _pad(n % 10**4, 10**3)
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d:
            out += ("零" if zero and out else "") + _DIGITS[d] + unit
            zero = False
        else:
            zero = True
    # 10-19 are read 十, 十一 … not 一十, 一十一 (but 110 is 一百一十).
    return out[1:] if out.startswith("一十") else out


def _pad(rest: int, lead: int) -> str:
    if rest == 0:
        return ""
    return ("零" if rest < lead else "") + _spoken_int(rest)


def normalise(text: str) -> str:
    """The characters that are compared (see the module docstring)."""
    text = to_simplified(text)
    text = _NUMBER.sub(lambda m: ("百分之" if m.group(2) else "") + spoken_number(m.group(1)), text)
    return "".join(_KEEP.findall(text)).lower()


def align(ref: str, hyp: str) -> list[tuple[int | None, int | None]]:
    """A minimum-edit alignment: pairs (ref index or None, hyp index or None) in order."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        row, prev, r = cost[i], cost[i - 1], ref[i - 1]
        for j in range(1, m + 1):
            row[j] = min(prev[j - 1] + (r != hyp[j - 1]), prev[j] + 1, row[j - 1] + 1)
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def char_errors(ref: str, hyp: str) -> int:
    """Substitutions + deletions + insertions between two normalised strings."""
    return sum(1 for i, j in align(ref, hyp) if i is None or j is None or ref[i] != hyp[j])


@dataclass(frozen=True)
class WordScore:
    """How a transcript did on chosen words: ``missed`` of ``occurrences`` in the reference
    were not written exactly; ``spurious`` times one was written where the reference has none."""

    occurrences: int
    missed: int
    spurious: int

    def __add__(self, other: "WordScore") -> "WordScore":
        return WordScore(self.occurrences + other.occurrences, self.missed + other.missed,
                         self.spurious + other.spurious)


def word_score(ref: str, hyp: str, words: list[str] | tuple[str, ...]) -> WordScore:
    """Score ``words`` (normalised text) in ``hyp`` against ``ref``, position by position.

    An occurrence in the reference counts as heard when every one of its characters is aligned
    to the same character (so a homophone, a dropped or an inserted character is a miss). A
    word in the hypothesis whose span is not an occurrence in the reference is spurious: what
    an over-eager correction would add.
    """
    pairs = align(ref, hyp)
    to_hyp = {i: j for i, j in pairs if i is not None}
    to_ref = {j: i for i, j in pairs if j is not None}
    occurrences = missed = spurious = 0
    for word in sorted(set(words), key=len, reverse=True):
        for start in _find_all(ref, word):
            occurrences += 1
            js = [to_hyp[i] for i in range(start, start + len(word))]
            if any(j is None or hyp[j] != ref[i] for i, j in zip(range(start, start + len(word)), js)):
                missed += 1
        for start in _find_all(hyp, word):
            at = [to_ref[j] for j in range(start, start + len(word))]
            if any(i is None for i in at) or ref[at[0]:at[0] + len(word)] != word:
                spurious += 1
    return WordScore(occurrences, missed, spurious)


def _find_all(text: str, word: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(word), text)] if word else []


# -- references as edit scripts ----------------------------------------------------------

def rough_text(path: Path) -> str:
    """The text of a rough transcript file: its lines without the header and timestamps."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _ROUGH_LINE.match(line)
        if m:
            lines.append(m.group(1))
    return "\n".join(lines)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Reference:
    name: str
    text: str                                   # one line per rough-transcript line
    uncertain: tuple[tuple[int, int, str], ...]  # character spans of ``text`` and why
    terms: tuple[str, ...] = ()                 # the recording's names and key terms, normalised

    @property
    def uncertain_chars(self) -> int:
        return sum(len(normalise(self.text[a:b])) for a, b, _ in self.uncertain)


class ReferenceError(RuntimeError):
    """An edit script does not fit the rough transcript it was made against."""


def make_edits(name: str, rough: str, reference: str, uncertain: list[tuple[str, str]] | None = None,
               terms: list[str] | None = None) -> dict:
    """The edit script turning ``rough`` into ``reference``. ``uncertain`` lists (text, note):
    each text must occur once in the reference and is stored as its character span. ``terms``
    (the recording's names and key terms, as a user would list them for hotwords) are stored
    as spans of the normalised reference, so their text stays out of the script too."""
    ops = difflib.SequenceMatcher(None, rough, reference, autojunk=False).get_opcodes()
    edits = [[i1, i2, reference[j1:j2]] for tag, i1, i2, j1, j2 in ops if tag != "equal"]
    spans = []
    for text, note in uncertain or []:
        at = reference.find(text)
        if at < 0 or reference.find(text, at + 1) >= 0:
            raise ReferenceError(f"{name}: uncertain span {text!r} must occur exactly once")
        spans.append([at, at + len(text), note])
    plain = normalise(reference)
    term_spans = []
    for term in terms or []:
        at = plain.find(normalise(term))
        if at < 0:
            raise ReferenceError(f"{name}: term {term!r} is not in the reference")
        term_spans.append([at, at + len(normalise(term))])
    return {"name": name, "rough_sha256": _sha(rough), "reference_sha256": _sha(reference),
            "edits": edits, "uncertain": spans, "terms": term_spans}


def apply_edits(rough: str, script: dict) -> str:
    """Rebuild a reference; ReferenceError when either hash does not match."""
    if _sha(rough) != script["rough_sha256"]:
        raise ReferenceError(f"{script['name']}: the rough transcript changed since the reference "
                             "was made (its hash differs); rebuild the edit script")
    out, at = [], 0
    for i1, i2, replacement in script["edits"]:
        out.append(rough[at:i1])
        out.append(replacement)
        at = i2
    out.append(rough[at:])
    text = "".join(out)
    if _sha(text) != script["reference_sha256"]:
        raise ReferenceError(f"{script['name']}: the rebuilt reference does not match its hash")
    return text


def load_reference(script_path: Path, transcripts_dir: Path) -> Reference:
    """The reference of one recording from its edit script and rough transcript."""
    script = json.loads(script_path.read_text(encoding="utf-8"))
    rough = rough_text(transcripts_dir / f"{script['name']}.txt")
    text = apply_edits(rough, script)
    plain = normalise(text)
    return Reference(script["name"], text, tuple((a, b, note) for a, b, note in script["uncertain"]),
                     tuple(plain[a:b] for a, b in script.get("terms", ())))
