"""Render one planned clip: subtitles, ffmpeg, verification, atomic publish.

A clip is written under a temporary name, probed (duration within tolerance, frame size,
an audio track) and only then renamed to ``clips/<id>.mp4``: a failed or killed run never
leaves a half clip that looks finished.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from ..config import RenderConfig
from ..errors import RenderError
from ..media.ffmpeg import run_ffmpeg
from ..media.probe import probe
from ..types import ClipSpec, MediaInfo, RenderedClip, Sentence, Transcript
from .command import render_argv
from .fonts import check_coverage
from .layout import SUBS_FILE
from .subtitles import build_cues, write_subtitles

log = logging.getLogger(__name__)


def clip_words(clip: ClipSpec, transcript: Transcript, sentences: Sequence[Sentence]):
    """The clip's words and the indices (into them) that end a sentence."""
    by_id = {s.id: s for s in sentences}
    members = [by_id[i] for i in clip.sentence_ids]
    first = members[0].first_word
    words = transcript.words[first:members[-1].last_word + 1]
    return words, {s.last_word - first for s in members}


def render_clip(info: MediaInfo, clip: ClipSpec, transcript: Transcript, sentences: Sequence[Sentence],
                cfg: RenderConfig, clips_dir: Path,
                on_progress: Callable[[float], None] | None = None) -> RenderedClip:
    words, ends = clip_words(clip, transcript, sentences)
    cues = build_cues(words, ends, clip.start, clip.end, cfg)
    check_coverage("".join(c.text for c in cues), cfg.font)
    clips_dir.mkdir(parents=True, exist_ok=True)
    final_mp4 = clips_dir / f"{clip.id}.mp4"
    final_srt = clips_dir / f"{clip.id}.srt"
    with tempfile.TemporaryDirectory(prefix=f".{clip.id}.", dir=clips_dir) as tmp_name:
        tmp = Path(tmp_name)
        write_subtitles(cues, cfg, tmp / SUBS_FILE, tmp / "subs.srt")
        out = tmp / "clip.mp4"
        argv = render_argv(info, clip.start, clip.duration, cfg, out, title=f"{clip.id} {clip.kind}")
        run_ffmpeg(argv, cwd=tmp, what=f"rendering {clip.id} failed", on_progress=on_progress)
        got = verify(out, clip, cfg)
        # Publish: subtitles first, the video last, so a finished-looking mp4 always has its srt.
        os.replace(tmp / "subs.srt", final_srt)
        os.replace(out, final_mp4)
    return RenderedClip(id=clip.id, file=f"clips/{clip.id}.mp4", subtitles=f"clips/{clip.id}.srt",
                        duration=round(got.duration, 3), width=got.width, height=got.height)


def verify(path: Path, clip: ClipSpec, cfg: RenderConfig) -> MediaInfo:
    got = probe(path)
    if not got.has_video or not got.has_audio:
        raise RenderError(f"{clip.id}: rendered file lacks {'video' if not got.has_video else 'audio'}")
    if (got.width, got.height) != (cfg.width, cfg.height):
        raise RenderError(f"{clip.id}: rendered {got.width}x{got.height}, expected {cfg.width}x{cfg.height}")
    if abs(got.duration - clip.duration) > cfg.duration_tolerance:
        raise RenderError(f"{clip.id}: rendered {got.duration:.2f}s, planned {clip.duration:.2f}s")
    return got
