"""The run as an OpenTimelineIO timeline: a selects reel of the clips' ranges in the source.

Layout (what an editor gets when the file is opened):

- video track "Selects": one Clip per clipper clip, back to back in manifest order (a selects
  reel: the usual hand-off; gaps of the source's length between them would only need
  removing), each referring to the source recording with ``source_range`` = [start, end) of
  the clip in the source, at the source's frame rate. Everything clipper knows about the clip
  is under ``metadata["clipper"]``; a scene cut inside the clip's range (in practice: the
  clip's start placed on a cut) is a marker on the clip, at its time in the source.
- video track "Subtitles": one item per subtitle cue, at its place over the clip, named by
  the cue's text. Items, not markers: a marker has no duration in most editors' views and
  the EDL and FCP 7 writers keep only its start, while an item keeps both ends through every
  round trip. The item holds a GeneratorReference (kind "Text"): there is no media for it,
  and a generator is what NLEs call a text title.
- audio track "Audio": the same ranges of the source's sound, so the picture's sound comes
  along in editors that link tracks by item rather than by file.

Times are whole frames at the timeline rate: an editor's timeline cannot cut between frames,
so each edge is rounded to the nearest frame (at most half a frame from the manifest).
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

from .run import Cue, ExportClip, RunExport

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange

SELECTS, SUBTITLES, AUDIO = "Selects", "Subtitles", "Audio"
TEXT_GENERATOR = "Text"


@dataclass(frozen=True)
class Layout:
    """Which parts a format can carry (the EDL writer takes one video track, no generators)."""

    subtitles: bool = True          # the subtitle track of text items
    audio: bool = True
    markers: bool = True            # scene cuts as markers on the clips
    subtitle_markers: bool = False  # subtitles as ranged markers on the clips instead of items


FULL = Layout()


def frames(seconds: float, rate: float) -> int:
    return round(seconds * rate)


def source_url(run: RunExport) -> str:
    """A file URL for the source: what OTIO's ExternalReference and the XML writers expect."""
    return run.source.resolve().as_uri() if run.source.is_absolute() else str(run.source)


def build_timeline(run: RunExport, layout: Layout = FULL, rate: float | None = None) -> otio.schema.Timeline:
    """The timeline of ``run`` at ``rate`` frames per second (the run's own by default)."""
    rate = rate or run.rate
    name = f"{run.name} selects" + (" (approved)" if run.approved_only else "")
    timeline = otio.schema.Timeline(name=name)
    timeline.metadata["clipper"] = {
        "run": str(run.run_dir.resolve()), "source": str(run.source), "rate": run.rate,
        "approved_only": run.approved_only, "clips": [c.id for c in run.clips],
    }
    video = otio.schema.Track(name=SELECTS, kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(video)
    subs = otio.schema.Track(name=SUBTITLES, kind=otio.schema.TrackKind.Video) if layout.subtitles else None
    if subs is not None:
        timeline.tracks.append(subs)
    audio = otio.schema.Track(name=AUDIO, kind=otio.schema.TrackKind.Audio) if layout.audio else None
    if audio is not None:
        timeline.tracks.append(audio)

    available = TimeRange(RationalTime(0, rate), RationalTime(frames(run.source_duration, rate), rate))
    record = 0       # where the next clip starts on the timeline, in frames
    sub_cursor = 0   # where the subtitle track ends so far, in frames
    for clip in run.clips:
        first, last = frames(clip.start, rate), frames(clip.end, rate)
        if last <= first:
            last = first + 1   # a clip shorter than half a frame still shows as one frame
        rng = TimeRange(RationalTime(first, rate), RationalTime(last - first, rate))
        item = _clip(clip, rng, _media(run, available), layout.markers, rate)
        if layout.subtitle_markers:
            item.markers.extend(_cue_markers(clip, first, last, rate))
        video.append(item)
        if audio is not None:
            audio.append(_clip(clip, rng, _media(run, available), False, rate))
        if subs is not None:
            sub_cursor = _subtitles(subs, clip, record, first, last, sub_cursor, rate)
        record += last - first
    return timeline


def _media(run: RunExport, available: TimeRange) -> otio.schema.ExternalReference:
    # One reference object per item: OTIO items own their media reference.
    ref = otio.schema.ExternalReference(target_url=source_url(run), available_range=available)
    ref.name = run.source.name
    return ref


def _clip(clip: ExportClip, rng: TimeRange, media: otio.schema.ExternalReference, markers: bool,
          rate: float) -> otio.schema.Clip:
    item = otio.schema.Clip(name=clip.name, media_reference=media, source_range=rng)
    item.metadata["clipper"] = dict(clip.info)
    if markers:
        for cut in clip.scene_cuts:
            # A marker on a clip is in the clip's media time, the same space as source_range.
            at = min(max(frames(cut, rate), rng.start_time.to_frames()), rng.end_time_exclusive().to_frames() - 1)
            item.markers.append(otio.schema.Marker(
                name="scene cut", color=otio.schema.MarkerColor.RED,
                marked_range=TimeRange(RationalTime(at, rate), RationalTime(0, rate)),
                metadata={"clipper": {"kind": "scene_cut", "time": cut,
                                      "edge": "start" if abs(cut - clip.start) < 1e-6 else None}}))
    return item


def _subtitles(track: otio.schema.Track, clip: ExportClip, record: int, first: int, last: int,
               cursor: int, rate: float) -> int:
    """Append the clip's cues (with gaps before them) to the subtitle track; the new end."""
    for cue in clip.cues:
        # Place each cue relative to the clip's first frame so that it stays over its words
        # whatever the rounding of the clip's edges; clamp it inside the clip.
        a = record + min(max(frames(cue.start, rate) - first, 0), last - first)
        b = record + min(max(frames(cue.end, rate) - first, 0), last - first)
        a = max(a, cursor)   # cues never overlap on one track; a later one gives way
        if b <= a:
            continue
        if a > cursor:
            track.append(otio.schema.Gap(source_range=TimeRange(RationalTime(0, rate),
                                                                RationalTime(a - cursor, rate))))
        track.append(_cue_item(cue, clip, b - a, rate))
        cursor = b
    return cursor


def _cue_markers(clip: ExportClip, first: int, last: int, rate: float) -> list[otio.schema.Marker]:
    """The clip's cues as markers spanning their words, in the clip's media time."""
    out = []
    for cue in clip.cues:
        a = min(max(frames(cue.start, rate), first), last - 1)
        b = min(max(frames(cue.end, rate), a + 1), last)
        out.append(otio.schema.Marker(
            name=cue.text, color=otio.schema.MarkerColor.YELLOW,
            marked_range=TimeRange(RationalTime(a, rate), RationalTime(b - a, rate)),
            metadata={"clipper": {"kind": "subtitle", "clip": clip.id, "start": cue.start, "end": cue.end}}))
    return out


def _cue_item(cue: Cue, clip: ExportClip, length: int, rate: float) -> otio.schema.Clip:
    ref = otio.schema.GeneratorReference(name=TEXT_GENERATOR, generator_kind=TEXT_GENERATOR,
                                         parameters={"text": cue.text})
    item = otio.schema.Clip(name=cue.text, media_reference=ref,
                            source_range=TimeRange(RationalTime(0, rate), RationalTime(length, rate)))
    item.metadata["clipper"] = {"kind": "subtitle", "clip": clip.id, "text": cue.text,
                                "start": cue.start, "end": cue.end}
    return item


def subtitle_items(timeline: otio.schema.Timeline) -> list[otio.schema.Clip]:
    """The subtitle items of a timeline this module built (or one read back from a file)."""
    return [item for track in timeline.video_tracks() if track.name == SUBTITLES
            for item in track if isinstance(item, otio.schema.Clip)]
