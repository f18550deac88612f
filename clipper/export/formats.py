"""``export_run``: a run's clips as a timeline file an editor opens, one writer per format.

Every format starts from the same OTIO timeline (``timeline.build_timeline``) and is written
by the OpenTimelineIO adapter for it; where an adapter cannot take part of that timeline the
format gets a simpler one rather than a hand-written file:

- otio     the whole timeline (selects, subtitle items, audio, scene-cut markers).
- fcp7xml  the whole timeline; subtitle items become FCP 7 "Text" generators, so Premiere and
           FCP 7 show them as titles.
- fcpxml   the FCP X writer cannot write generator items: subtitles go as ranged markers on the
           clips instead. Its output is tidied (see ``_tidy_fcpxml``).
- edl      CMX 3600 holds one video track of cuts: the selects only; scene cuts become LOC
           comments. No subtitles, no audio events (the adapter writes the video track only).
- jianying a 剪映 draft folder (``jianying.write_draft``), not an OTIO adapter.

Files are written whole through ``write_text_atomic``: a reader never sees half a timeline.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from ..errors import ConfigError, StageError, WorkspaceError
from ..workspace import write_text_atomic
from .run import RunExport, load_run
from .timeline import TEXT_GENERATOR, Layout, build_timeline, subtitle_items

log = logging.getLogger(__name__)

EXPORTS_DIR = "exports"
TIMELINE_FILE = "timeline.otio"

# FCP X knows these rates only (its writer looks the frame duration up in this table).
FCPX_RATES = (23.98, 24.0, 25.0, 29.97, 30.0, 50.0, 59.94, 60.0)


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str           # of the file written; "" for a folder (the 剪映 draft)
    write: Callable[[RunExport, Path], Path]
    label: str


def _write_otio(run: RunExport, path: Path) -> Path:
    return _adapter_write(build_timeline(run), "otio_json", path)


def _write_fcp7(run: RunExport, path: Path) -> Path:
    timeline = build_timeline(run)
    for item in subtitle_items(timeline):
        # The FCP 7 writer makes a <generatoritem> from a generator whose metadata describes
        # the effect; "Text" with its "str" parameter is FCP 7's (and Premiere's) text title.
        item.media_reference.metadata["fcp_xml"] = {
            "effectcategory": "Text", "effecttype": "generator", "mediatype": "video",
            "parameter": {"parameterid": "str", "name": "Text", "value": item.name},
        }
        item.media_reference.name = TEXT_GENERATOR
    return _adapter_write(timeline, "fcp_xml", path)


def _write_fcpx(run: RunExport, path: Path) -> Path:
    rate = min(FCPX_RATES, key=lambda r: abs(r - run.rate))
    timeline = build_timeline(run, Layout(subtitles=False, subtitle_markers=True), rate=rate)
    for item in timeline.find_clips():
        # The writer looks clips up by name in an XPath predicate quoted with ' (a title
        # like "Men's fit" breaks it); the typographic apostrophe reads the same.
        item.name = item.name.replace("'", "\u2019")
    text = _adapter_string(timeline, "fcpx_xml")
    return write_text_atomic(path, _tidy_fcpxml(text, run))


def _write_edl(run: RunExport, path: Path) -> Path:
    return _adapter_write(build_timeline(run, Layout(subtitles=False, audio=False)), "cmx_3600", path)


def _write_jianying(run: RunExport, path: Path) -> Path:
    from .jianying import write_draft  # pyJianYingDraft is only loaded for this format

    return write_draft(run, path)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("otio", ".otio", _write_otio, "OpenTimelineIO (DaVinci Resolve, Premiere via plug-in, any OTIO tool)"),
    Format("fcpxml", ".fcpxml", _write_fcpx, "Final Cut Pro X XML"),
    Format("fcp7xml", ".xml", _write_fcp7, "Final Cut Pro 7 XML (Premiere Pro, DaVinci Resolve)"),
    Format("edl", ".edl", _write_edl, "CMX 3600 EDL"),
    Format("jianying", "", _write_jianying, "剪映 (JianyingPro) draft folder"),
)}


def default_path(run: RunExport, fmt: Format) -> Path:
    stem = "timeline.approved" if run.approved_only else "timeline"
    if not fmt.suffix:
        from .jianying import draft_name

        return run.run_dir / EXPORTS_DIR / "jianying" / draft_name(run)
    return run.run_dir / EXPORTS_DIR / f"{stem}{fmt.suffix}"


def export_run(run_dir: Path | str, fmt: str, out: Path | str | None = None, approved: bool = False) -> Path:
    """Write the run in ``run_dir`` as ``fmt`` to ``out`` (a file; the draft's folder for
    jianying; an existing folder takes the default file name). Returns the path written.

    With ``approved`` only clips whose manifest entry has ``review.state == "approved"``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: one of {', '.join(FORMATS)}")
    format_ = FORMATS[fmt]
    run = load_run(Path(run_dir), approved=approved)
    path = Path(out) if out is not None else default_path(run, format_)
    if format_.suffix and path.is_dir():
        path = path / default_path(run, format_).name
    return format_.write(run, path)


def write_timeline(run_dir: Path | str, *, best_effort: bool = False) -> Path | None:
    """Write ``DIR/timeline.otio``: every clip of the run (none is a valid, empty timeline).

    With ``best_effort`` a failure is logged as a warning and None returned: the pipeline
    calls it after the manifest is written, and a by-product must not fail a run whose
    clips are already safe on disk.
    """
    run_dir = Path(run_dir)
    try:
        run = load_run(run_dir, require_clips=False)
        return _adapter_write(build_timeline(run), "otio_json", run_dir / TIMELINE_FILE)
    except Exception as exc:
        if not best_effort:
            raise
        log.warning("%s: timeline.otio not written: %s", run_dir, exc)
        return None


def _adapter_string(timeline: otio.schema.Timeline, adapter: str) -> str:
    try:
        return otio.adapters.write_to_string(timeline, adapter_name=adapter)
    except Exception as exc:   # the adapters raise OTIOError and plain Python errors alike
        raise StageError(f"the {adapter} writer failed: {exc}") from exc


def _adapter_write(timeline: otio.schema.Timeline, adapter: str, path: Path) -> Path:
    text = _adapter_string(timeline, adapter)
    try:
        return write_text_atomic(path, text)
    except OSError as exc:
        raise WorkspaceError(f"cannot write the export: {exc.strerror}", path=str(path)) from None


def _tidy_fcpxml(text: str, run: RunExport) -> str:
    """Three fixes to the FCP X writer's output that keep it importable and unambiguous.

    - The writer names a ``<format>`` "FFVideoFormat<w>x<h>p<rate>.0", a name Final Cut does
      not know; a format without a name is a custom one defined by its frame duration,
      width and height, so the name goes and the source's size is given.
    - It names the source ``<asset>`` after the first clip that uses it: the file's name is
      what an editor expects to find in the browser.
    - It adds an ``<asset-clip>`` of the whole source for every item of every track, named
      after the selects: whole-recording browser clips that look like the selects. The
      project's spine holds the selects; those are dropped.
    """
    root = ET.fromstring(text.encode("utf-8"))
    for fmt in root.iter("format"):
        fmt.attrib.pop("name", None)
        if run.source_size[0] and run.source_size[1]:
            fmt.set("width", str(run.source_size[0]))
            fmt.set("height", str(run.source_size[1]))
    for asset in root.iter("asset"):
        asset.set("name", run.source.name)
    for clip in root.findall("asset-clip"):
        root.remove(clip)
    ET.indent(root, space="    ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n' + body + "\n"
