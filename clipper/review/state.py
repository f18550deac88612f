"""Review decisions: one ``review.json`` per run folder, saved atomically after every change.

A decision belongs to a planned clip (its id and the sentences it was planned on, so a re-plan
that reuses an id for other speech does not inherit it). Every save bumps the clip's ``rev``;
a change must name the ``rev`` it was made on, and a change made on an older one is refused
with the saved state (``ReviewConflict``): two tabs editing one clip cannot silently
overwrite each other, and the one that lost is told what is there now.

States: ``pending`` (nobody looked), ``approved``, ``rejected``, ``edited`` (changed by the
reviewer and not approved since). Any edit without an explicit state makes a clip ``edited``:
an approval covers what the reviewer saw, so a later edit needs a new look.
"""

from __future__ import annotations

import fcntl
import json
import threading
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from ..errors import ReviewConflict, ReviewError, WorkspaceError
from ..types import JsonValue
from ..workspace import write_json_atomic

STATES = ("pending", "approved", "rejected", "edited")
REVIEW_FILE = "review.json"
MAX_TITLE = 120          # characters: a title is one line on a 1080-pixel-wide frame
MAX_WORD = 40            # characters of one corrected word (a recogniser word is a few)
MAX_CORRECTIONS = 2000
_CHANGE_KEYS = {"state", "first_word", "last_word", "title", "corrections"}


@dataclass(frozen=True)
class Decision(JsonValue):
    clip: str
    sentence_ids: tuple[str, ...]
    state: str = "pending"
    rev: int = 0
    first_word: int = -1                      # -1: the planned edge
    last_word: int = -1
    title: str | None = None                  # None: the title from the template
    corrections: tuple[tuple[int, str], ...] = ()
    updated: str = ""

    @property
    def edits(self) -> list[str]:
        """What the reviewer changed, in a fixed order (the manifest lists it)."""
        return [name for name, on in (("start", self.first_word >= 0), ("end", self.last_word >= 0),
                                      ("title", self.title is not None),
                                      ("words", bool(self.corrections))) if on]


@dataclass(frozen=True)
class ClipBounds:
    """What a change is checked against: the planned clip's sentences and words."""

    id: str
    sentence_ids: tuple[str, ...]
    first_word: int
    last_word: int


class ReviewStore:
    """Reads and changes ``DIR/review.json``; safe across threads and processes."""

    def __init__(self, run_dir: Path | str) -> None:
        self.dir = Path(run_dir)
        self.path = self.dir / REVIEW_FILE
        self._lock = threading.Lock()

    def load(self) -> dict[str, Decision]:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {d["clip"]: Decision.from_dict(d) for d in data["clips"].values()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Decisions are a person's work, not a cache: never discard them silently.
            raise WorkspaceError(f"unreadable review decisions ({exc}); fix or move the file aside",
                                 path=str(self.path)) from None

    def get(self, clip: ClipBounds) -> Decision:
        d = self.load().get(clip.id)
        return d if d is not None and d.sentence_ids == clip.sentence_ids else Decision(clip.id, clip.sentence_ids)

    def update(self, clip: ClipBounds, base_rev: int, changes: Mapping[str, Any], words: Sequence[str]) -> Decision:
        """Apply ``changes`` made on revision ``base_rev`` of ``clip``; returns the saved decision.

        ``words`` are the transcript's word texts (indices are checked against them).
        """
        with self._exclusive():
            decisions = self.load()
            old = decisions.get(clip.id)
            if old is None or old.sentence_ids != clip.sentence_ids:
                old = Decision(clip.id, clip.sentence_ids)
            if isinstance(base_rev, bool) or not isinstance(base_rev, int):
                raise ReviewError("rev must be the integer revision the change was made on")
            if base_rev != old.rev:
                raise ReviewConflict(f"clip {clip.id} was changed (revision {old.rev}, yours {base_rev}): "
                                     "reload it and apply your change again", current=old.to_dict())
            new = _changed(old, clip, changes, words)
            new = replace(new, rev=old.rev + 1, updated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            decisions[clip.id] = new
            write_json_atomic(self.path, {"version": 1, "clips": {k: v.to_dict() for k, v in sorted(decisions.items())}})
            return new

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One writer at a time: a thread lock in this process, a file lock across processes."""
        with self._lock:
            self.dir.joinpath(".clipper").mkdir(parents=True, exist_ok=True)
            with open(self.dir / ".clipper" / "review.lock", "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)


def _changed(old: Decision, clip: ClipBounds, changes: Mapping[str, Any], words: Sequence[str]) -> Decision:
    n_words = len(words)
    if not isinstance(changes, Mapping):
        raise ReviewError("a change is a JSON object")
    unknown = set(changes) - _CHANGE_KEYS
    if unknown:
        raise ReviewError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    new = old
    if "first_word" in changes or "last_word" in changes:
        first = _index(changes.get("first_word", old.first_word), "first_word", n_words, allow_unset=True)
        last = _index(changes.get("last_word", old.last_word), "last_word", n_words, allow_unset=True)
        # -1 means the planned edge; an edge equal to the planned one is no edit either.
        first = -1 if first == clip.first_word else first
        last = -1 if last == clip.last_word else last
        a = clip.first_word if first < 0 else first
        b = clip.last_word if last < 0 else last
        if a > b:
            raise ReviewError(f"the clip would end (word {b}) before it starts (word {a})")
        new = replace(new, first_word=first, last_word=last)
    if "title" in changes:
        title = changes["title"]
        if title is not None:
            title = _clean(title, "title", MAX_TITLE)
        new = replace(new, title=title)
    if "corrections" in changes:
        new = replace(new, corrections=_corrections(old.corrections, changes["corrections"], words))
    state = changes.get("state")
    if state is not None:
        if state not in STATES:
            raise ReviewError(f"state must be one of {', '.join(STATES)}")
        new = replace(new, state=state)
    elif new != old:
        new = replace(new, state="edited")
    return new


def _index(value: Any, name: str, n_words: int, allow_unset: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReviewError(f"{name} must be an integer word index")
    if allow_unset and value == -1:
        return -1
    if not 0 <= value < n_words:
        raise ReviewError(f"{name} {value} is out of range (the transcript has {n_words} words)")
    return value


def _clean(value: Any, name: str, limit: int) -> str:
    """Text from a reviewer: one line, no control characters, bounded length."""
    if not isinstance(value, str):
        raise ReviewError(f"{name} must be text")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ReviewError(f"{name} must be one line of text without control characters")
    if len(value) > limit:
        raise ReviewError(f"{name} is longer than {limit} characters")
    return value.strip()


def _corrections(old: Sequence[tuple[int, str]], given: Any, words: Sequence[str]) -> tuple[tuple[int, str], ...]:
    """Merge {word index: text} into the saved corrections; None or the recogniser's text removes one.

    A Latin word keeps the leading space the recogniser gives it, so words still join right.
    """
    if not isinstance(given, Mapping):
        raise ReviewError("corrections must be an object {word index: text}")
    merged = dict(old)
    for key, text in given.items():
        try:
            index = int(key)
        except (TypeError, ValueError):
            raise ReviewError(f"corrections: {key!r} is not a word index") from None
        _index(index, "corrections word", len(words))
        original = words[index]
        text = None if text is None else _clean(text, "a corrected word", MAX_WORD)
        if text is None or text == original.strip():
            merged.pop(index, None)
        else:
            merged[index] = original[:len(original) - len(original.lstrip())] + text
    if len(merged) > MAX_CORRECTIONS:
        raise ReviewError(f"more than {MAX_CORRECTIONS} corrected words")
    return tuple(sorted(merged.items()))
