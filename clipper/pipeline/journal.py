"""The run's journal (``OUT/.clipper/journal.jsonl``): what a run has heard and decided, in order.

One append-only file shared by ``clipper run``, live clipping and resuming after a crash:

- ``{"key", "window": ChunkResult}``: one transcribed window of audio, as soon as it is done;
- ``{"key", "pass": {"plan": K, "after": n, "final": bool, "clips": [ClipSpec...]}}``: the clips
  the incremental walk published after the first ``n`` windows, under plan settings ``K``;
- ``{"key", "end": seconds}``: the recording was transcribed to its end.

Every line carries the transcript key (the source's fingerprint and the transcribe settings):
a journal written under other settings is started afresh. Lines are only ever appended and
each is flushed whole, so a kill at any moment loses at most the line being written (a torn
last line is dropped on reading); anything else unreadable sets the file aside.

Appending instead of rewriting one state file keeps the cost of a window constant: a live
state file rewritten after every window grows quadratically over a three-hour stream.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..transcribe.whisper import ChunkResult
from ..types import ClipSpec
from ..workspace import Workspace, set_aside

log = logging.getLogger(__name__)
NAME = "journal.jsonl"


@dataclass(frozen=True)
class PassRecord:
    plan: str                      # the plan settings' key the decision was made under
    after: int                     # windows transcribed when it was made
    final: bool
    clips: tuple[ClipSpec, ...]


@dataclass
class Journal:
    path: Path
    key: str
    windows: list[ChunkResult] = field(default_factory=list)
    passes: list[PassRecord] = field(default_factory=list)
    end: float | None = None       # set once the recording was transcribed to its end

    @classmethod
    def open(cls, ws: Workspace, key: str) -> "Journal":
        """The journal of this key, read back; a fresh one when there is none or it is of
        other settings (its file is then replaced on the first append)."""
        journal = cls(ws.usable(NAME), key)
        records = _read(journal.path)
        if records and records[0][0] != key:
            log.info("journal: written with other transcription settings; starting afresh")
            records = []
        if not records:
            journal.path.write_text("", encoding="utf-8")
        for record_key, value in records:
            if record_key != key:
                break
            if isinstance(value, ChunkResult):
                journal.windows.append(value)
            elif isinstance(value, PassRecord):
                journal.passes.append(value)
            elif value is not None:
                journal.end = value
        return journal

    @property
    def transcribed_until(self) -> float:
        return self.windows[-1].end if self.windows else 0.0

    @property
    def language(self) -> str | None:
        """The language the first window with speech was heard in (later windows keep it)."""
        return next((c.language for c in self.windows if c.words), None)

    def decided(self, plan: str, after: int, final: bool) -> PassRecord | None:
        """The pass made after ``after`` windows under plan settings ``plan``, if it was made."""
        return next((p for p in self.passes if p.plan == plan and p.after == after and p.final == final), None)

    def add_window(self, chunk: ChunkResult) -> None:
        self.windows.append(chunk)
        self._append({"window": chunk.to_dict()})

    def add_pass(self, record: PassRecord) -> None:
        self.passes.append(record)
        self._append({"pass": {"plan": record.plan, "after": record.after, "final": record.final,
                               "clips": [c.to_dict() for c in record.clips]}})

    def mark_end(self, seconds: float) -> None:
        self.end = seconds
        self._append({"end": seconds})

    def _append(self, body: dict[str, Any]) -> None:
        line = json.dumps({"key": self.key, **body}, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(line)
            sink.flush()


def _read(path: Path) -> Sequence[tuple[str, ChunkResult | PassRecord | float | None]]:
    """The journal's records, each (key, window | pass | end seconds), parsed once; a torn
    last line (a killed run) is dropped, other damage sets the file aside (the run then
    starts afresh)."""
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        set_aside(path, f"unreadable journal ({exc})")
        return []
    records: list[tuple[str, ChunkResult | PassRecord | float | None]] = []
    for n, line in enumerate(lines):
        try:
            records.append(_record(json.loads(line)))
        except Exception as exc:  # noqa: BLE001 - bytes, JSON or shape
            if n == len(lines) - 1 and isinstance(exc, json.JSONDecodeError):
                break  # a torn last line from a killed run
            set_aside(path, f"unreadable journal ({type(exc).__name__}: {exc})")
            return []
    return records


def _record(row: Any) -> tuple[str, ChunkResult | PassRecord | float | None]:
    if not isinstance(row, dict) or not isinstance(row.get("key"), str):
        raise ValueError("not a journal record")
    if "window" in row:
        return row["key"], ChunkResult.from_dict(row["window"])
    if "pass" in row:
        p = row["pass"]
        return row["key"], PassRecord(p["plan"], int(p["after"]), bool(p["final"]),
                                      tuple(ClipSpec.from_dict(c) for c in p["clips"]))
    if "end" in row:
        return row["key"], float(row["end"])
    return row["key"], None    # a kind this version does not know: passed over
