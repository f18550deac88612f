"""A finished run read back from its work folder (``clipper render``, the review page, exports)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import WorkspaceError
from ..types import CutPlan, MediaInfo, Segmentation, SentenceList, Shots, Transcript
from ..workspace import Workspace, fingerprint
from .journal import NAME as JOURNAL


@dataclass(frozen=True)
class SavedRun:
    """A finished run's stages, read back from its work folder."""

    out_dir: Path
    config: dict[str, Any] | None
    media: MediaInfo
    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation
    shots: Shots
    plan: CutPlan


def load_run(out_dir: str | Path) -> SavedRun:
    """The saved stages of the run in ``out_dir``; a clear error when it has none."""
    out = Path(out_dir)
    if not (out / ".clipper" / "plan.json").is_file():
        raise WorkspaceError("not a clipper run (no saved plan in .clipper/): run `clipper run` first",
                             path=str(out))
    ws = Workspace(out)
    config = ws.read_json("config.json", _settings_table)   # damaged: set aside, the current settings apply
    shots = ws.read("shots", Shots) if ws.path("shots.json").is_file() else Shots((), ())
    return SavedRun(out, config, ws.read("media", MediaInfo), ws.read("transcript", Transcript),
                    ws.read("sentences", SentenceList), ws.read("segments", Segmentation), shots,
                    ws.read("plan", CutPlan))


def source_key(run: SavedRun | Workspace, default: str | None = None) -> str:
    """The key a run's clips were rendered under: its journal's (the source and how it was
    heard), else ``default``, else the source's fingerprint (a run older than the journal)."""
    ws = run if isinstance(run, Workspace) else Workspace(run.out_dir)
    try:
        with ws.path(JOURNAL).open(encoding="utf-8") as fh:
            key = json.loads(fh.readline()).get("key")
        if isinstance(key, str):
            return key
    except (OSError, ValueError, AttributeError):
        pass
    if default is not None:
        return default
    media = run.media if isinstance(run, SavedRun) else ws.read("media", MediaInfo)
    try:
        return fingerprint(Path(media.path))
    except OSError:
        return "source-gone"   # re-rendering needs the source anyway: render_clip says so


def _settings_table(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("not a table of settings")
    return data
