"""Clipping a recording while it is still being written.

Each pass reads the audio that has arrived since the last one (up to a quiet point a few
seconds before the end, so no word is cut), transcribes it, re-plans, and renders the clips
whose selling points are complete: later speech has gone on for ``live_settle`` seconds.
Published clips are frozen: they are appended to the manifest and never redone or renamed;
the next pass only plans what comes after them. When the file stops growing, a final pass
takes the rest. State (transcribed windows, published clips) lives in the work folder, so a
killed daemon resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .export import write_timeline
from .manifest import build_manifest, write_manifest
from .media.audio import extract_audio_argv, quietest_point, read_window, wav_duration
from .media.ffmpeg import run_ffmpeg
from .media.probe import probe
from .plan import build_plan, edge_windows, group_sentences
from .render.clip import render_clip
from .scenes import detect_cuts
from .segment.base import segment_sentences
from .sentences import split_sentences
from .transcribe.whisper import ChunkResult, assemble, transcribe_audio
from .types import ClipSpec, CutPlan, RenderedClip, Segmentation
from .workspace import Workspace, disk_errors, write_json_atomic

if TYPE_CHECKING:
    from .pipeline import Pipeline

log = logging.getLogger(__name__)
MIN_NEW_AUDIO = 6.0     # seconds of new audio worth a pass
TAIL_SEARCH = 4.0       # the pass ends at the quietest point of the last few seconds


def settled(clip: ClipSpec, transcribed_until: float, last_speech: float, settle: float) -> bool:
    """Is a clip's selling point complete: speech went on for ``settle`` seconds past its end
    (the recogniser has heard that far, and some sentence ends after the clip)?"""
    return transcribed_until - clip.end >= settle and last_speech > clip.end


def clips_to_publish(planned: Sequence[ClipSpec], published: Sequence[ClipSpec], transcribed_until: float,
                     last_speech: float, settle: float, final: bool) -> list[ClipSpec]:
    """The planned clips to publish now, in order, with the ids they are published under.

    Published clips never change: a planned clip that starts before the end of the last one
    published (the same selling point planned again, or one overlapping it) is passed over,
    and numbering goes on after them. A clip goes out once settled (or when the recording is
    complete, ``final``); the first that is not stops the list, as later ones are not either.
    """
    cursor = published[-1].end if published else 0.0
    out: list[ClipSpec] = []
    for clip in planned:
        if clip.start < cursor - 1e-3:
            continue  # published already, or overlaps what was
        if not (final or settled(clip, transcribed_until, last_speech, settle)):
            break
        out.append(replace(clip, id=f"c{len(published) + len(out) + 1:03d}"))
        cursor = clip.end
    return out


class LiveSession:
    def __init__(self, pipeline: "Pipeline", source: Path, out_dir: Path, is_complete: Callable[[], bool]) -> None:
        self.pipeline, self.source, self.is_complete = pipeline, source, is_complete
        self.cfg = pipeline.config
        self.ws = Workspace(out_dir)
        self.state_path = self.ws.path("live.json")
        state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}
        self.chunks = [ChunkResult.from_dict(c) for c in state.get("chunks", [])]
        self.published = [ClipSpec.from_dict(c) for c in state.get("published", [])]
        self.rendered = [RenderedClip.from_dict(c) for c in state.get("rendered", [])]
        self.language: str | None = state.get("language")

    @property
    def transcribed_until(self) -> float:
        return self.chunks[-1].end if self.chunks else 0.0

    def run(self) -> dict[str, Any]:
        """Pass after pass until the recording is complete; returns the final manifest."""
        with disk_errors(self.ws.out_dir):
            while True:
                complete = self.is_complete()  # read before the pass: the pass then sees everything
                self.pass_once(final=complete)
                if complete:
                    return self._write_manifest(final=True)
                self.pipeline.checkpoint()
                time.sleep(self.cfg.watch.live_interval)

    def pass_once(self, final: bool) -> None:
        while self._transcribe_new(final):
            self.pipeline.checkpoint()  # a backlog is read one bounded window at a time
        if not self.chunks or not any(c.words for c in self.chunks):
            return
        info = probe(self.source)
        transcript = assemble(self.chunks, self.transcribed_until, self.cfg.transcribe.model)
        sentences = split_sentences(transcript, self.cfg.sentences)
        segmentation: Segmentation = segment_sentences(sentences, self.cfg.segment)
        kinds = self.cfg.segment.kinds
        horizon = info.duration if final else self.transcribed_until
        cursor = self.published[-1].end if self.published else 0.0
        groups, _ = group_sentences(sentences, segmentation, kinds, self.cfg.plan)
        windows = [w for w in edge_windows(groups, sentences, horizon, self.cfg.plan) if w[0] >= cursor]
        shots = detect_cuts(self.source, windows, self.cfg.scenes) if info.has_video else None
        plan = build_plan(sentences, segmentation, shots, kinds, self.cfg.plan, horizon)
        last_speech = sentences.sentences[-1].end if sentences.sentences else 0.0
        ready = clips_to_publish(plan.clips, self.published, self.transcribed_until, last_speech,
                                 self.cfg.watch.live_settle, final)
        for clip in ready:
            self.pipeline.checkpoint()
            rendered = render_clip(info, clip, transcript, sentences.sentences, self.cfg.render,
                                   self.ws.out_dir / "clips")
            self.published.append(clip)
            self.rendered.append(rendered)
            self._save_state()
            self._write_manifest(final=False, info=info, language=transcript.language, segmentation=segmentation)
            log.info("%s: published %s (%.1f-%.1fs) while recording", self.source.name, clip.id, clip.start, clip.end)

    def _transcribe_new(self, final: bool) -> bool:
        """Transcribe one window of the audio that arrived; True when more is already waiting."""
        start = self.transcribed_until
        wav = self.ws.path("live_audio.wav")
        window = self.cfg.transcribe.chunk_seconds
        try:
            run_ffmpeg(extract_audio_argv(self.source, wav, start, window + TAIL_SEARCH + 1.0),
                       what="reading the growing recording failed")
        except Exception as exc:  # noqa: BLE001 - a file mid-write can fail to parse for a moment
            if final:
                raise
            log.info("%s: not readable yet (%s)", self.source.name, exc)
            return False
        available = wav_duration(wav)
        more = available > window
        if available < (0.5 if final else MIN_NEW_AUDIO):
            return False
        end = available
        if more or not final:
            # End at a quiet point short of the edge: the words there may still be arriving.
            edge = min(available, window + TAIL_SEARCH) - 1.0
            lo = max(0.0, edge - TAIL_SEARCH)
            end = quietest_point(read_window(wav, lo, edge), lo)
        chunk = transcribe_audio(self.pipeline.model(), read_window(wav, 0.0, end), start,
                                 self.cfg.transcribe, self.language)
        self.language = self.language or (chunk.language if chunk.words else None)
        self.chunks.append(chunk)
        self._save_state()
        wav.unlink(missing_ok=True)
        return more

    def _save_state(self) -> None:
        write_json_atomic(self.state_path, {
            "language": self.language, "chunks": [c.to_dict() for c in self.chunks],
            "published": [c.to_dict() for c in self.published], "rendered": [r.to_dict() for r in self.rendered]})

    def _write_manifest(self, final: bool, info=None, language: str | None = None,
                        segmentation: Segmentation | None = None) -> dict[str, Any]:
        info = info or probe(self.source)
        segmentation = segmentation or Segmentation(self.cfg.segment.backend, self.cfg.segment.category, ())
        plan = CutPlan(clips=tuple(self.published))
        manifest = build_manifest(info, language or self.language or "", plan, self.rendered, segmentation,
                                  extra={"live": {"complete": final, "transcribed_until": self.transcribed_until}})
        write_manifest(manifest, self.ws.out_dir)
        write_timeline(self.ws.out_dir, best_effort=True)
        return manifest

