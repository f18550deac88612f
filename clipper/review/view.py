"""What the review page shows: each planned clip with its decision, its render and its words.

Read from the run folder on every request (the saved stages, ``manifest.json`` and
``review.json``), so a reload, a second tab and a restarted server all see the same state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ReviewError, WorkspaceError
from ..pipeline import SavedRun, load_run
from ..types import ClipSpec
from .apply import clip_bounds
from .state import ClipBounds, Decision, ReviewStore

CONTEXT_WORDS = 24     # words shown before the first and after the last word, to nudge an edge into


@dataclass
class RunView:
    """A run folder opened for review. ``refresh()`` re-reads what a render may have changed."""

    out_dir: Path
    saved: SavedRun
    store: ReviewStore
    manifest: dict[str, Any]

    @classmethod
    def open(cls, out_dir: Path | str) -> "RunView":
        saved = load_run(out_dir)
        view = cls(saved.out_dir, saved, ReviewStore(saved.out_dir), {})
        view.refresh()
        return view

    def refresh(self) -> None:
        path = self.out_dir / "manifest.json"
        try:
            self.manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"unreadable manifest ({exc})", path=str(path)) from None

    @property
    def word_texts(self) -> list[str]:
        return [w.text for w in self.saved.transcript.words]

    def planned(self, clip_id: str) -> tuple[ClipSpec, ClipBounds]:
        for clip in self.saved.plan.clips:
            if clip.id == clip_id:
                return clip, clip_bounds(clip, self.saved.sentences.sentences)
        raise ReviewError(f"no clip {clip_id!r} in this run")

    def clips(self) -> list[dict[str, Any]]:
        decisions = self.store.load()
        return [self._clip(clip, decisions.get(clip.id)) for clip in self.saved.plan.clips]

    def clip(self, clip_id: str) -> dict[str, Any]:
        clip, _ = self.planned(clip_id)
        return self._clip(clip, self.store.load().get(clip_id))

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        return {"source": Path(m.get("source", {}).get("path", "")).name, "language": m.get("language", ""),
                "duration": m.get("source", {}).get("duration"), "dir": str(self.out_dir)}

    def _clip(self, clip: ClipSpec, d: Decision | None) -> dict[str, Any]:
        bounds = clip_bounds(clip, self.saved.sentences.sentences)
        if d is None or d.sentence_ids != clip.sentence_ids:
            d = Decision(clip.id, clip.sentence_ids)
        rendered = next((c for c in self.manifest.get("clips", []) if c.get("id") == clip.id), None)
        first = d.first_word if d.first_word >= 0 else bounds.first_word
        last = d.last_word if d.last_word >= 0 else bounds.last_word
        words = self.saved.transcript.words
        lo, hi = max(0, first - CONTEXT_WORDS), min(len(words) - 1, last + CONTEXT_WORDS)
        fixed = dict(d.corrections)
        vocab = {c.word: c.heard for c in self.saved.transcript.corrections}   # homophones the recogniser fixed
        shown = []
        for i in range(lo, hi + 1):
            w = words[i]
            gap = w.start - words[i - 1].end if i > 0 else w.start
            shown.append({"i": i, "text": fixed.get(i, w.text), "heard": w.text, "start": round(w.start, 3),
                          "end": round(w.end, 3), "pause": round(max(0.0, gap), 2), "fixed": i in fixed,
                          "recognised": vocab.get(i)})
        made_rev = (rendered or {}).get("review", {}).get("rev", 0)
        # The file on disk reflects the decision when it was rendered with this revision's
        # edits, or when there was nothing to render differently.
        stale = (d.state == "rejected" and rendered is not None) or (
            d.rev != made_rev and bool(d.edits or (rendered or {}).get("review", {}).get("edited")))
        return {
            "id": clip.id, "kind": clip.kind, "tags": list(clip.tags), "product": clip.product,
            "category": clip.category, "score": clip.score, "take": clip.take, "best_take": clip.best_take,
            "planned": {"start": clip.start, "end": clip.end, "first_word": bounds.first_word,
                        "last_word": bounds.last_word, "text": clip.text},
            "state": d.state, "rev": d.rev, "edits": d.edits, "first_word": first, "last_word": last,
            "title": d.title if d.title is not None else (rendered or {}).get("title") or "",
            "title_edited": d.title is not None,
            "text": "".join(x["text"] for x in shown if first <= x["i"] <= last).strip(),
            "words": shown, "stale": stale,
            "render": None if rendered is None else {
                "file": _url(rendered.get("file"), self.out_dir), "cover": _url(rendered.get("cover"), self.out_dir),
                "subtitles": _url(rendered.get("subtitles"), self.out_dir), "start": rendered.get("start"),
                "end": rendered.get("end"), "duration": rendered.get("duration"),
                "title": rendered.get("title", ""), "edges": rendered.get("edges", {})},
        }


def _url(rel: str | None, root: Path) -> str | None:
    """A URL under /files/ for a file of the run, with its mtime so a re-render is not cached."""
    if not rel:
        return None
    path = root / rel
    version = int(path.stat().st_mtime_ns) if path.is_file() else 0
    return f"/files/{quote(rel)}?v={version}"
