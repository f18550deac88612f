"""A finished run read back for export: its clips, their subtitles and the scene cuts at them.

Everything an export needs comes from the run folder, never from a re-run: ``manifest.json``
says which clips there are (and, after a review, which are approved), each clip's ``.srt``
holds its subtitles as rendered (corrections included), ``.clipper/media.json`` the source's
frame rate and ``.clipper/shots.json`` the scene cuts. Times stay in seconds of the source
here; each format turns them into frames or microseconds itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, WorkspaceError
from ..render.subtitles import read_srt
from ..types import MediaInfo, Shots

log = logging.getLogger(__name__)

# The rates editors' timelines run at. A recording's measured average rate (29.83 for a
# variable-rate stream) is snapped to the nearest of these so that timecodes are ones an
# editor can type; NTSC rates stay exact fractions.
STANDARD_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 50.0, 60000 / 1001, 60.0)
DEFAULT_RATE = 30.0


@dataclass(frozen=True)
class Cue:
    """One subtitle, in seconds of the source."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class ExportClip:
    id: str
    start: float                  # seconds of the source, as in the manifest
    end: float
    name: str                     # what an editor sees on the clip: id and title
    title: str
    cues: tuple[Cue, ...]
    scene_cuts: tuple[float, ...]  # detected cuts inside [start, end), seconds of the source
    info: dict[str, Any]          # the manifest facts carried into each format's metadata

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RunExport:
    run_dir: Path
    source: Path                  # absolute path of the recording the clips were cut from
    source_duration: float
    rate: float                   # frames per second of every exported timeline
    width: int                    # the clips' frame (a draft's canvas)
    height: int
    clips: tuple[ExportClip, ...]
    approved_only: bool = False
    source_size: tuple[int, int] = (0, 0)   # the recording's picture (0, 0: unknown or audio only)

    @property
    def name(self) -> str:
        return self.source.stem


def timeline_rate(fps: float) -> float:
    """The source's rate as an editor's timeline rate (30 when it is unknown: audio only)."""
    if not fps or fps <= 0:
        return DEFAULT_RATE
    best = min(STANDARD_RATES, key=lambda r: abs(r - fps))
    if abs(best - fps) / fps < 0.02:
        return best
    return float(max(1, round(fps)))


def read_manifest(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise WorkspaceError("no manifest.json: not a clipper run folder (run `clipper run` first)",
                             path=str(run_dir))
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest["source"]["path"], str) or not isinstance(manifest["clips"], list):
            raise TypeError("source.path or clips of the wrong type")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WorkspaceError(f"unreadable manifest.json ({exc})", path=str(path)) from None
    return manifest


def review_state(clip: dict[str, Any]) -> str:
    """A clip's review state; a manifest written before any review has none: pending."""
    review = clip.get("review")
    return str(review.get("state", "pending")) if isinstance(review, dict) else "pending"


def load_run(run_dir: Path | str, approved: bool = False, require_clips: bool = True) -> RunExport:
    """The run in ``run_dir`` ready to export; with ``approved`` only its approved clips.

    Raises WorkspaceError when the folder is no run, InputError when nothing is left to export.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    entries = [c for c in manifest["clips"] if not approved or review_state(c) == "approved"]
    if require_clips and not entries:
        why = "no approved clips" if approved and manifest["clips"] else "no clips"
        raise InputError(f"{why} to export", path=str(run_dir))
    fps = _stage(run_dir, "media", MediaInfo)
    shots = _stage(run_dir, "shots", Shots)
    cuts = sorted(shots.cuts) if shots else []
    clips = tuple(_clip(run_dir, c, cuts) for c in entries)
    first = entries[0] if entries else {}
    return RunExport(run_dir=run_dir, source=Path(manifest["source"]["path"]),
                     source_duration=float(manifest["source"].get("duration") or 0.0),
                     rate=timeline_rate(fps.fps if fps else 0.0),
                     width=int(first.get("width") or 1080), height=int(first.get("height") or 1920),
                     clips=clips, approved_only=approved,
                     source_size=(int(manifest["source"].get("width") or 0),
                                  int(manifest["source"].get("height") or 0)))


def _stage(run_dir: Path, stage: str, cls):
    """A saved stage's value, or None: an export works without it (a copied or trimmed run)."""
    path = run_dir / ".clipper" / f"{stage}.json"
    if not path.is_file():
        return None
    try:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8"))["value"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s: unreadable (%s), exporting without it", path, exc)
        return None


def _clip(run_dir: Path, c: dict[str, Any], cuts: list[float]) -> ExportClip:
    start, end = float(c["start"]), float(c["end"])
    title = c.get("title") or ""
    # Cuts were only searched near the clips' edges, so "inside the clip" is in practice "at
    # its start" (the edge placed on the cut) or a cut near an edge that was not used. A cut
    # exactly at the clip's end belongs to the next picture and is left out: the clip ends
    # there anyway (its `edges.end` says "scene").
    eps = 1e-6
    inside = tuple(t for t in cuts if start - eps <= t < end - eps)
    info = {
        "id": c["id"], "kind": c["kind"], "tags": list(c.get("tags") or []),
        "product": c.get("product"), "category": c.get("category"), "title": title,
        "text": c.get("text", ""), "review": review_state(c), "score": c.get("score"),
        "start": start, "end": end, "edges": dict(c.get("edges") or {}), "file": c.get("file"),
    }
    return ExportClip(id=c["id"], start=start, end=end, name=f"{c['id']} {title}".strip(), title=title,
                      cues=_cues(run_dir, c, end - start), scene_cuts=inside, info=info)


def _cues(run_dir: Path, c: dict[str, Any], duration: float) -> tuple[Cue, ...]:
    """The clip's subtitles in source seconds (the .srt is timed from the clip's start)."""
    rel = c.get("subtitles")
    path = run_dir / rel if rel else None
    if path is None or not path.is_file():
        log.warning("%s: no subtitles file for %s, exporting it without subtitles", run_dir, c["id"])
        return ()
    try:
        subs = read_srt(path)
    except (OSError, ValueError) as exc:
        # Exporting the clip without its subtitles would hand the editor a silently poorer
        # timeline; a damaged .srt is worth one clear error instead.
        raise WorkspaceError(f"unreadable subtitles ({exc})", path=str(path)) from None
    start = float(c["start"])
    cues = []
    for a, b, text in subs:
        text = text.strip()
        a, b = max(0.0, a), min(duration, b)
        if text and b > a:
            cues.append(Cue(round(start + a, 3), round(start + b, 3), text))
    return tuple(cues)
