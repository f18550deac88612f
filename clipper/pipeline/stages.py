"""The stage table: what each saved stage is, what its key reads, and how it is computed.

media -> transcript -> sentences -> segments -> shots -> plan. A stage's key hashes its
inputs' keys and the config sections it reads (plus what it depends on beyond the config,
such as the trained segmenter's weights), so changing ``[plan]`` reuses the transcript and
the segmentation but plans again. Every stage file written here is read back here (a rerun
reuses it, ``load_run`` reads a finished run); caching, timing and stop checks live in
``Stages.cached`` and nowhere else.

The transcript is the one stage not computed here: the incremental walk (``walk.py``)
builds it window by window from the journal, deciding clips as it goes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from ..config import Config
from ..edge_silence import refine_edges
from ..plan import build_plan, edge_windows, fit_to_picture, group_sentences
from ..scenes import detect_cuts
from ..segment.base import segment_sentences, segmenter_version
from ..sentences import split_sentences
from ..types import (
    CutPlan,
    JsonValue,
    MediaInfo,
    Segmentation,
    SentenceList,
    Shots,
    Transcript,
)
from ..workspace import Workspace, key_of

log = logging.getLogger(__name__)
T = TypeVar("T", bound=JsonValue)
PICTURE_SLACK = 0.5   # seconds of sound without picture at either end that need no special care


@dataclass(frozen=True)
class Stage:
    name: str                       # also the work file: .clipper/<name>.json
    value: type                     # what it holds
    inputs: tuple[str, ...]         # stages whose keys enter its key
    sections: tuple[str, ...]       # config sections its key reads
    compute: str                    # what computes it (documentation; the calls are below)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("media", MediaInfo, (), (), "media.probe.probe"),
    Stage("transcript", Transcript, ("media",), ("transcribe",), "walk.Walk (windows in journal.jsonl)"),
    Stage("sentences", SentenceList, ("transcript",), ("sentences",), "sentences.split_sentences"),
    Stage("segments", Segmentation, ("sentences",), ("segment",), "segment.base.segment_sentences"),
    Stage("shots", Shots, ("segments",), ("scenes", "plan"), "scenes.detect_cuts on plan.edge_windows"),
    # watch.live_settle decides when a clip is published while the stream is still being
    # heard, which every run does: it shapes the plan like [plan] does.
    Stage("plan", CutPlan, ("segments", "shots"), ("plan", "watch.live_settle"), "plan.build_plan"),
)}


def stage_keys(config: Config, fingerprint: str) -> dict[str, str]:
    """Every stage's key, from the source's fingerprint and the config (pure)."""
    keys: dict[str, str] = {}
    for stage in STAGES.values():
        sections = {s: _section(config, s) for s in stage.sections}
        extra = segmenter_version(config.segment) if stage.name == "segments" else ""
        keys[stage.name] = key_of(stage.name, fingerprint if not stage.inputs else "",
                                  [keys[i] for i in stage.inputs], sections, extra)
    return keys


# Settings that change how fast a stage runs, never what it makes: left out of its key, so a
# run with another thread count (a batch shares the cores among its workers) resumes the
# journal instead of transcribing again.
SPEED_ONLY = {"transcribe": ("threads",), "scenes": ("prefetch",)}


def _section(config: Config, name: str) -> Any:
    table, _, key = name.partition(".")
    section = getattr(config, table)
    if key:
        return getattr(section, key)
    return section.model_dump(mode="json", exclude=set(SPEED_ONLY.get(table, ())))


class Stages:
    """The stages of one run in one work folder: keys, cache, timings, stop checks."""

    def __init__(self, ws: Workspace, config: Config, fingerprint: str,
                 checkpoint: Callable[[], None] = lambda: None) -> None:
        self.ws, self.config, self.checkpoint = ws, config, checkpoint
        self.keys = stage_keys(config, fingerprint)
        self.timings: dict[str, float] = {}
        self.reused: list[str] = []

    def load(self, name: str) -> Any:
        """The saved value when its key matches, else None."""
        return self.ws.load(name, self.keys[name], STAGES[name].value)

    def save(self, name: str, value: JsonValue) -> None:
        self.ws.save(name, self.keys[name], value)

    def cached(self, name: str, compute: Callable[[], T]) -> T:
        """The stage's saved value, or computed and saved; timed, then a stop check."""
        started = time.perf_counter()
        value = self.load(name)
        if value is None:
            value = compute()
            self.save(name, value)
        else:
            self.reused.append(name)
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - started, 3)
        self.checkpoint()
        return value

    def add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)


# -- the computations (pure functions of their inputs and the config) --------------------
def sentences_of(transcript: Transcript, config: Config) -> SentenceList:
    return split_sentences(transcript, config.sentences)


def segments_of(sentences: SentenceList, config: Config) -> Segmentation:
    return segment_sentences(sentences, config.segment)


@dataclass(frozen=True)
class Proposal:
    """Planning, first half: the groups of sentences that make clips, and the stretches
    around their edges where a scene cut may become the edge (what scene detection reads)."""

    grouped: tuple[list, list[dict]]        # group_sentences' (groups, dropped)
    windows: list[tuple[float, float]]


def propose(sentences: SentenceList, segmentation: Segmentation, config: Config, duration: float,
            has_video: bool, after: float = 0.0, whole_gaps: bool = False) -> Proposal:
    """Group once; the edge windows starting at or after ``after`` (none without a picture);
    ``whole_gaps`` when the scene prefetch reads gaps ahead (``plan.edge_windows``)."""
    grouped = group_sentences(sentences, segmentation, config.segment.kinds, config.plan)
    windows = [w for w in edge_windows(grouped[0], sentences, duration, config.plan, whole_gaps) if w[0] >= after] \
        if has_video else []
    return Proposal(grouped, windows)


def plan_of(info: MediaInfo, sentences: SentenceList, segmentation: Segmentation, shots: Shots | None,
            config: Config, duration: float, picture_known: bool = True, audio: Path | None = None,
            proposal: Proposal | None = None, check_edges: bool = True, after: float = 0.0) -> CutPlan:
    """Planning, second half: the cut plan up to ``duration`` (the horizon heard so far, or the
    whole source) from the proposal and the scene cuts, its edges checked on the sound itself
    (``audio``: the run's WAV while it exists, else the source, decoded a few seconds per edge;
    ``after``: the end of the clips published already, whose edges need no second check)."""
    plan = build_plan(sentences, segmentation, shots, config.segment.kinds, config.plan, duration,
                      proposal.grouped if proposal else None)
    picture = None
    if picture_known and partial_picture(info):
        plan = fit_to_picture(plan, sentences, info.video_start, info.video_end, config.plan)
        picture = (info.video_start, info.video_end)
    if not check_edges:
        return plan
    source = audio if audio is not None and audio.is_file() else Path(info.path)
    return refine_edges(plan, source, sentences, config.plan, duration, shots=shots, picture=picture,
                        track=info.audio_track if source == Path(info.path) else 0, after=after)


def partial_picture(info: MediaInfo) -> bool:
    """Does the video track cover only part of the sound (a recording whose picture starts
    late or ends early)? Clips are then cut where both are."""
    return bool(info.has_video and info.video_end and (
        info.video_start > PICTURE_SLACK or info.video_end < info.duration - PICTURE_SLACK))


class ShotFinder:
    """Scene cuts of a source, searched once per window however many passes ask (and whatever
    the scene prefetch found already, from its own thread: ``add``)."""

    def __init__(self, source: str, config: Config, progress=None) -> None:
        self.source, self.config, self.progress = source, config, progress
        self.found: dict[tuple[float, float], tuple[float, ...]] = {}
        self._lock = threading.Lock()

    def known(self, window: tuple[float, float]) -> bool:
        with self._lock:
            return window in self.found

    def add(self, window: tuple[float, float], cuts: Sequence[float]) -> None:
        with self._lock:
            self.found.setdefault(window, tuple(cuts))

    def __call__(self, windows: list[tuple[float, float]]) -> Shots:
        todo = [w for w in windows if not self.known(w)]
        if todo:
            shots = detect_cuts(self.source, todo, self.config.scenes)
            for w in todo:
                self.add(w, [c for c in shots.cuts if w[0] - 1e-3 <= c <= w[1] + 1e-3])
        with self._lock:
            cuts = sorted({c for w in windows for c in self.found[w]})
        return Shots(windows=tuple(windows), cuts=tuple(cuts))
