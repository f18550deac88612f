"""Render one planned clip: subtitles, loudness, ffmpeg, verification, cover, atomic publish.

A clip is written under a temporary name, probed (duration within tolerance, frame size,
an audio track) and only then renamed to ``clips/<id>.mp4``: a failed or killed run never
leaves a half clip that looks finished.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ..config import RenderConfig, tag_names
from ..errors import InputError, RenderError
from ..media.ffmpeg import run_ffmpeg
from ..media.probe import probe
from ..types import ClipSpec, MediaInfo, RenderedClip, Sentence, Transcript, Word
from ..workspace import fingerprint
from .aigc import aigc_label, clip_produce_id
from .audio import measure
from .command import render_argv
from .fonts import check_coverage
from .layout import SUBS_FILE
from .subtitles import build_cues, write_subtitles

log = logging.getLogger(__name__)


def clip_words(clip: ClipSpec, transcript: Transcript, sentences: Sequence[Sentence]):
    """The clip's words (with a reviewer's corrections) and the indices (into them) that end a sentence."""
    by_id = {s.id: s for s in sentences}
    members = [by_id[i] for i in clip.sentence_ids]
    first = clip.first_word if clip.first_word >= 0 else members[0].first_word
    last = clip.last_word if clip.last_word >= 0 else members[-1].last_word
    words = list(transcript.words[first:last + 1])
    for index, text in clip.corrections:
        if first <= index <= last:
            words[index - first] = replace(words[index - first], text=text)
    ends = {s.last_word - first for s in sentences if first <= s.last_word <= last} | {last - first}
    return [w for w in words if w.text.strip()], _shift_ends(words, ends)


def _shift_ends(words: Sequence[Word], ends: set[int]) -> set[int]:
    """Sentence-end indices after words corrected to nothing are dropped from the list."""
    out, kept = set(), -1
    for i, w in enumerate(words):
        if w.text.strip():
            kept += 1
        if i in ends and kept >= 0:
            out.add(kept)
    return out


def clip_title(clip: ClipSpec, cfg: RenderConfig) -> str:
    """The title line: the reviewer's, else from the template, e.g. "面料 · Fabric" for a fabric clip."""
    if not cfg.title:
        return ""
    if clip.title:
        return clip.title
    if not clip.tags:
        return ""
    tag = clip.tags[0]
    names = tag_names().get(tag, {})
    fields = {"tag": tag, "tag_zh": names.get("zh", tag), "tag_en": names.get("en", tag.replace("_", " ").title()),
              "product": clip.product, "kind": clip.kind.replace("_", " ")}
    try:
        return cfg.title_template.format(**fields).strip()
    except (KeyError, IndexError, ValueError) as exc:
        raise RenderError(f"render.title_template: unknown field or bad format ({exc})") from None


def render_clip(info: MediaInfo, clip: ClipSpec, transcript: Transcript, sentences: Sequence[Sentence],
                cfg: RenderConfig, clips_dir: Path,
                on_progress: Callable[[float], None] | None = None) -> RenderedClip:
    clips_dir = clips_dir.resolve()  # ffmpeg runs inside a temp folder: relative paths would break
    words, ends = clip_words(clip, transcript, sentences)
    cues = build_cues(words, ends, clip.start, clip.end, cfg)
    title = clip_title(clip, cfg)
    check_coverage("".join(c.text for c in cues) + title + (cfg.ai_label_text if cfg.ai_label else ""), cfg.font)
    for what, path in (("logo", cfg.logo), ("music", cfg.music)):
        if path and not Path(path).expanduser().is_file():
            raise RenderError(f"render.{what}: no such file", path=path)
    loudness = (measure(Path(info.path), clip.start, clip.duration, cfg.loudness, info.audio_track)
                if cfg.loudness else None)
    crop_x = None
    if cfg.layout == "crop" and cfg.follow == "subject" and info.has_video:
        from .reframe import follow_subject

        crop_x = follow_subject(info, clip.start, clip.duration, cfg)
    produce_id = clip_produce_id(fingerprint(Path(info.path)), clip.id, clip.start, clip.end)
    clips_dir.mkdir(parents=True, exist_ok=True)
    final_mp4 = clips_dir / f"{clip.id}.mp4"
    with tempfile.TemporaryDirectory(prefix=f".{clip.id}.", dir=clips_dir) as tmp_name:
        tmp = Path(tmp_name)
        write_subtitles(cues, cfg, tmp / SUBS_FILE, tmp / "subs.srt", duration=clip.duration, title=title)
        out = tmp / "clip.mp4"
        # The cover: the moment the first subtitle is fully up, title and all.
        at = min(max(0.8, cues[0].start + 0.5) if cues else 1.0, clip.duration / 2)
        cover_file = (at, tmp / "cover.jpg") if cfg.cover else None
        for seek in (True, False):
            argv = render_argv(info, clip.start, clip.duration, cfg, out, title=title or f"{clip.id} {clip.kind}",
                               loudness=loudness, crop_x=crop_x, produce_id=produce_id, seek=seek,
                               cover=cover_file)
            run_ffmpeg(argv, cwd=tmp, what=f"rendering {clip.id} failed", on_progress=on_progress)
            try:
                got = verify(out, clip, cfg)
                break
            except RenderError as exc:
                if not seek or not exc.context.get("short"):
                    raise
            # A damaged source that cannot be seeked into (a truncated MKV has lost its index)
            # gives an empty or short clip: decode it from the start instead.
            log.warning("%s: cannot seek to %.2fs (damaged index?); decoding %s from the start",
                        info.path, clip.start, clip.id)
        cover = ""
        if cover_file:
            if not cover_file[1].is_file() or cover_file[1].stat().st_size == 0:
                raise RenderError(f"{clip.id}: no cover frame at {at:.2f}s of the render")
            os.replace(cover_file[1], clips_dir / f"{clip.id}.jpg")
            cover = f"clips/{clip.id}.jpg"
        # Publish: sidecars first, the video last, so a finished-looking mp4 has its srt and cover.
        os.replace(tmp / "subs.srt", clips_dir / f"{clip.id}.srt")
        os.replace(out, final_mp4)
    return RenderedClip(id=clip.id, file=f"clips/{clip.id}.mp4", subtitles=f"clips/{clip.id}.srt",
                        duration=round(got.duration, 3), width=got.width, height=got.height, cover=cover,
                        title=title, aigc=aigc_label(cfg, produce_id) if cfg.aigc_label else "")


def verify(path: Path, clip: ClipSpec, cfg: RenderConfig) -> MediaInfo:
    """The rendered clip's MediaInfo, or RenderError (``short`` in its context when it came out
    empty or too short: what a source that cannot be seeked into gives)."""
    try:
        got = probe(path)
    except InputError as exc:
        raise RenderError(f"{clip.id}: the rendered file is unreadable ({exc.message})", short=True) from None
    if got.duration < clip.duration - cfg.duration_tolerance:
        raise RenderError(f"{clip.id}: rendered {got.duration:.2f}s, planned {clip.duration:.2f}s", short=True)
    if not got.has_video or not got.has_audio:
        raise RenderError(f"{clip.id}: rendered file lacks {'video' if not got.has_video else 'audio'}")
    if (got.width, got.height) != (cfg.width, cfg.height):
        raise RenderError(f"{clip.id}: rendered {got.width}x{got.height}, expected {cfg.width}x{cfg.height}")
    if abs(got.duration - clip.duration) > cfg.duration_tolerance:
        raise RenderError(f"{clip.id}: rendered {got.duration:.2f}s, planned {clip.duration:.2f}s")
    if got.video_end and (got.video_start > cfg.duration_tolerance
                          or got.video_end < got.duration - cfg.duration_tolerance):
        # The source's picture stopped (or started late): never publish a frozen or missing picture.
        raise RenderError(f"{clip.id}: the picture covers only {got.video_start:.2f}-{got.video_end:.2f}s "
                          f"of {got.duration:.2f}s")
    return got
