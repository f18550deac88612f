"""The run as a 剪映 (JianyingPro) draft folder, written with pyJianYingDraft.

Only the library's draft-writing part is used (``DraftFolder.create_draft`` / ``ScriptFile``);
its Windows automation (``JianyingController``, which drives 剪映's export) is neither needed
nor importable here. The draft has:

- track "video": the clips' ranges of the source recording, back to back (each segment's
  ``source_timerange`` is the clip's [start, end) in microseconds, its sound included);
- track "titles": each clip's title over the whole clip, near the top of the frame;
- track "subtitles": each subtitle cue at its place over its clip, near the bottom.

The canvas is the clips' frame (1080x1920 unless a preset changed it): the editor finishes a
vertical video, and the landscape source shows fitted to its width until they reframe it.
The library reads the source with MediaInfo (its duration and size go into the draft), so the
recording must exist where the manifest says; the draft refers to it by that absolute path.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pyJianYingDraft as jy

from ..errors import InputError, StageError, WorkspaceError
from ..workspace import write_text_atomic
from .run import RunExport

log = logging.getLogger(__name__)

SEC = jy.SEC                      # microseconds in a second: the draft's time unit
CONTENT_FILE = "draft_content.json"
META_FILE = "draft_meta_info.json"
VIDEO, TITLES, SUBTITLES = "video", "titles", "subtitles"

_SUBTITLE_STYLE = {"size": 7.0, "align": 1, "auto_wrapping": True, "max_line_width": 0.82}
_TITLE_STYLE = {"size": 10.0, "bold": True, "align": 1, "auto_wrapping": True, "max_line_width": 0.9}
# Vertical place of a text, in half canvas heights from the centre (+ is up). -0.8 is where
# 剪映 itself puts imported subtitles (the library's note on ClipSettings).
_SUBTITLE_Y, _TITLE_Y = -0.8, 0.75


def draft_name(run: RunExport) -> str:
    """The draft's folder name, which 剪映 shows as its name: short and Windows-safe."""
    name = f"{run.name} {'approved' if run.approved_only else 'selects'}"
    name = re.sub(r'[<>:"/\\|?*\x00-\x1f]+', "_", name).strip(" .")
    return name[:60] or "clipper selects"


def us(seconds: float) -> int:
    return round(seconds * SEC)


def write_draft(run: RunExport, path: Path) -> Path:
    """Write the draft folder ``path`` (replacing an earlier draft there) and return it."""
    if not run.source.is_file():
        raise InputError("the source recording is not where the manifest says: a 剪映 draft needs it",
                         path=str(run.source))
    if path.exists() and not _replaceable(path):
        raise WorkspaceError("exists and is not a 剪映 draft: not replacing it", path=str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    except OSError as exc:
        raise WorkspaceError(f"cannot write the draft: {exc.strerror}", path=str(path)) from None
    try:
        draft = _build(run, tmp, path.name)
        _swap_in(draft, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _replaceable(path: Path) -> bool:
    """An earlier draft (ours or 剪映's) or an empty folder may be replaced; nothing else."""
    return path.is_dir() and ((path / CONTENT_FILE).is_file() or not any(path.iterdir()))


def _build(run: RunExport, parent: Path, name: str) -> Path:
    """Build the draft in ``parent/name`` and return that folder."""
    folder = jy.DraftFolder(str(parent))
    script = folder.create_draft(name, run.width, run.height, fps=max(1, round(run.rate)))
    try:
        material = jy.VideoMaterial(str(run.source))
    except (ValueError, OSError) as exc:
        raise InputError(f"MediaInfo cannot read the source for the draft ({exc})", path=str(run.source)) from None
    video = script.append_track(jy.TrackSpec(jy.TrackType.video, VIDEO))
    titles = script.append_track(jy.TrackSpec(jy.TrackType.text, TITLES))
    subs = script.append_track(jy.TrackSpec(jy.TrackType.text, SUBTITLES))

    cursor = 0   # where the next clip starts on the draft's timeline, microseconds
    try:
        for clip in run.clips:
            src = jy.trange_seconds(clip.start, end=clip.end)
            if src.end > material.duration:
                # MediaInfo's video duration can end a few milliseconds before the container's.
                log.info("%s: end %d us past the video's %d us, trimmed", clip.id, src.end, material.duration)
                src = jy.Timerange(src.start, material.duration - src.start)
            target = jy.Timerange(cursor, src.duration)
            script.add_segment(jy.VideoSegment(material, target, source_timerange=src), video)
            if clip.title:
                script.add_segment(jy.TextSegment(
                    clip.title, jy.Timerange(cursor, src.duration), style=jy.TextStyle(**_TITLE_STYLE),
                    clip_settings=jy.ClipSettings(transform_y=_TITLE_Y), border=jy.TextBorder()), titles)
            last = cursor
            for cue in clip.cues:
                # A cue sits over its words: its offset from the clip's start, clamped inside
                # the clip and after the previous cue (a text track takes no overlaps).
                a = max(cursor + min(max(us(cue.start) - src.start, 0), src.duration), last)
                b = cursor + min(max(us(cue.end) - src.start, 0), src.duration)
                if b <= a:
                    continue
                script.add_segment(jy.TextSegment(
                    cue.text, jy.Timerange(a, b - a), style=jy.TextStyle(**_SUBTITLE_STYLE),
                    clip_settings=jy.ClipSettings(transform_y=_SUBTITLE_Y), border=jy.TextBorder()), subs)
                last = b
            cursor += src.duration
        content = json.loads(script.dumps())
    except ValueError as exc:   # the library's checks (a range past the media, an overlap)
        raise StageError(f"pyJianYingDraft refused the draft: {exc}") from None

    draft = parent / name
    # The library's templates carry one fixed draft id; two drafts with one id in 剪映's
    # folder would be taken for one. Each draft gets its own, and its name and length.
    content["id"] = str(uuid.uuid4()).upper()
    write_text_atomic(draft / CONTENT_FILE, json.dumps(content, ensure_ascii=False, indent=4))
    meta_path = draft / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.update(draft_id=str(uuid.uuid4()).upper(), draft_name=name, tm_duration=cursor)
    write_text_atomic(meta_path, json.dumps(meta, ensure_ascii=False, indent=4))
    return draft


def _swap_in(draft: Path, path: Path) -> None:
    """Move the finished draft to ``path``; an earlier draft there goes only once it has."""
    old = None
    try:
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            path.rename(old)
        draft.rename(path)
    except OSError as exc:
        if old is not None and not path.exists():
            old.rename(path)   # put the earlier draft back rather than leave nothing
        raise WorkspaceError(f"cannot move the draft into place: {exc.strerror}", path=str(path)) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
