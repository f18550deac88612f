"""Clip edges checked against the sound itself, and moved into a real pause.

The planner places every edge from the recogniser's word times (``plan.place_edge``). Those
times can be a few hundred milliseconds off: when a word's end is early the padding lands in
its tail, and the clip opens (or closes) on a fragment of a word. ``refine_edges`` looks at the
decoded samples around each edge: short-frame energy against the local noise floor, a pause
being a quiet stretch of at least ``plan.edge_min_pause``. An edge in speech moves into a
pause inside the gap the plan allows (between the clip's speech and its neighbour sentence,
never into the neighbouring clip, never outside the picture): the longest one there, which is
the sentence boundary rather than a breath beside it, padded from the speech as the planner
pads (``max_pad``, at most half the pause), but from where the audio shows the speech to be.
Its reason in the manifest's ``edges`` says so, or says why it could not.

Only a few seconds around each edge are read: from the run's 16 kHz WAV when there is one,
else decoded from the source by ffmpeg, one short window per edge. Never the whole file.
"""

from __future__ import annotations

import logging
import tempfile
import wave
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import PlanConfig
from .errors import ClipperError
from .media.audio import SAMPLE_RATE, extract_audio_argv, read_window
from .media.ffmpeg import run_ffmpeg
from .types import ClipSpec, CutPlan, SentenceList, Shots

log = logging.getLogger(__name__)

FRAME = 0.02          # energy frame: long enough to smooth one pitch period, short next to a pause
HOP = 0.01
FLOOR_DB = -90.0      # digital silence is -inf dB; clamp so percentiles stay finite
QUIET_DB = -65.0      # below this a frame is silent whatever the window looks like
MARGIN_DB = 15.0      # speech stands at least this far above the local floor (less when the window has less range)
GUARD = 0.05          # a moved edge keeps this far from the speech on either side of its pause...
CHECK_GUARD = 0.025   # ...and any edge this far counts as in the pause: the slack absorbs a frame of
                      # difference between two measurements over differently placed windows
SAFETY_DB = 3.0       # an edge is moved only into sound this much quieter than the threshold: a second
                      # measurement over another window (another floor) still finds it in the pause
CONTEXT = 0.6         # audio read beyond the search range, so a pause at its end is seen whole


class EdgeAudio:
    """Samples of a recording's clipped sound track, a short window at a time.

    ``path`` is either a 16 kHz mono WAV whose times are the source's (the run's ``audio.wav``)
    and is read directly, or any media file, decoded by ffmpeg one window at a time."""

    def __init__(self, path: Path, track: int = 0):
        self.path = Path(path)
        self.track = track
        self.is_wav = _is_16k_wav(self.path)

    def window(self, start: float, end: float) -> np.ndarray:
        """Samples of [start, end); ``start`` should be on the ``HOP`` grid (``grid``)."""
        start = max(0.0, start)
        if end <= start:
            return np.zeros(0, dtype=np.float32)
        if self.is_wav:
            return read_window(self.path, start, end)
        with tempfile.TemporaryDirectory(prefix="clipper-edge-") as tmp:
            wav = Path(tmp) / "edge.wav"
            run_ffmpeg(extract_audio_argv(self.path, wav, start, end - start, self.track),
                       what="decoding the sound around a clip edge failed")
            return read_window(wav, 0.0, end - start)


def _is_16k_wav(path: Path) -> bool:
    if path.suffix.lower() != ".wav":
        return False
    try:
        with wave.open(str(path), "rb") as wf:
            return wf.getframerate() == SAMPLE_RATE and wf.getnchannels() == 1 and wf.getsampwidth() == 2
    except (wave.Error, EOFError, OSError):
        return False


def grid(t: float) -> float:
    """``t`` rounded down to the frame grid, so that every window measures the same frames."""
    return max(0.0, float(np.floor(t / HOP)) * HOP)


def frame_levels(samples: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of ``FRAME``-long frames every ``HOP``; frame k is centred at (k + 1) * HOP."""
    win, hop = int(FRAME * SAMPLE_RATE), int(HOP * SAMPLE_RATE)
    if len(samples) < win:
        return np.zeros(0)
    frames = np.lib.stride_tricks.sliding_window_view(samples.astype(np.float64), win)[::hop]
    power = np.square(frames).mean(axis=1)
    return np.maximum(10 * np.log10(power + 1e-12), FLOOR_DB)


def pauses(samples: np.ndarray, offset: float, min_pause: float, safety_db: float = 0.0) -> list[tuple[float, float]]:
    """The pauses (start, end in seconds, ``offset`` added) in a stretch of sound.

    A frame is quiet below the local floor (10th percentile) plus a margin: ``MARGIN_DB``, or
    half the window's range when that is smaller (a music bed under the voice narrows it).
    A pause is a run of quiet frames at least ``min_pause`` long; ``safety_db`` lowers the threshold."""
    levels = frame_levels(samples)
    if not len(levels):
        return []
    floor, loud = np.percentile(levels, 10), np.percentile(levels, 95)
    threshold = max(QUIET_DB, floor + max(3.0, min(MARGIN_DB, (loud - floor) / 2))) - safety_db
    quiet = np.concatenate([[False], levels < threshold, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    out = []
    for first, stop in zip(edges[::2], edges[1::2]):     # frames first..stop-1 are quiet
        a = offset + first * HOP + FRAME / 2 - HOP / 2
        b = offset + (stop - 1) * HOP + FRAME / 2 + HOP / 2
        if first == 0:
            a = offset                                   # the window starts inside this pause
        if stop == len(levels):
            b = offset + len(samples) / SAMPLE_RATE
        if b - a >= min_pause - 1e-9:
            out.append((round(float(a), 3), round(float(b), 3)))
    return out


def in_pause(t: float, spans: Sequence[tuple[float, float]]) -> bool:
    """True when ``t`` lies inside a pause, at least ``CHECK_GUARD`` (or half the pause) from speech."""
    return any(a + min(CHECK_GUARD, (b - a) / 2) - 1e-6 <= t <= b - min(CHECK_GUARD, (b - a) / 2) + 1e-6
               for a, b in spans)


def best_point(edge: float, lo: float, hi: float, spans: Sequence[tuple[float, float]], direction: int,
               pad: float, nearest: bool = False) -> float | None:
    """Where in [lo, hi] an edge in speech goes, None when no pause reaches into it.

    The pause: the one with the longest stretch inside [lo, hi] (the sentence boundary rather
    than a breath beside it; ties: the nearest ``edge``), or with ``nearest`` the one nearest
    ``edge`` (past the recogniser's gap, where every step takes or gives words). The point: as
    the planner pads from the speech (``plan.place_edge``), but from the speech the audio shows:
    a start ``pad`` (at most half the pause) before the sound resumes, an end ``pad`` after it."""
    best, key = None, None
    for a, b in spans:
        guard = min(GUARD, (b - a) / 2)
        s, e = max(lo, a + guard), min(hi, b - guard)
        if s > e + 1e-9:
            continue
        target = b - min(pad, (b - a) / 2) if direction < 0 else a + min(pad, (b - a) / 2)
        point = min(max(target, s), e)
        near = abs(min(max(edge, s), e) - edge)
        rank = (near, -(e - s)) if nearest else (-round(e - s, 2), near)
        if key is None or rank < key:
            best, key = point, rank
    return best


def edges_in_speech(clips: Sequence[ClipSpec], audio: Path, cfg: PlanConfig,
                    track: int = 0) -> list[tuple[str, str, float]]:
    """(clip id, "start" | "end", time) of every clip edge that is not in a pause, measured on
    the audio (a check for tests and benchmarks; reads a few seconds around each edge)."""
    reader, out = EdgeAudio(audio, track), []
    for clip in clips:
        for which, t in (("start", clip.start), ("end", clip.end)):
            a = grid(t - cfg.edge_search - CONTEXT)
            if not in_pause(t, pauses(reader.window(a, t + cfg.edge_search + CONTEXT), a, cfg.edge_min_pause)):
                out.append((clip.id, which, t))
    return out


def refine_edges(plan: CutPlan, audio: Path, sentences: SentenceList, cfg: PlanConfig, duration: float, *,
                 shots: Shots | None = None, picture: tuple[float, float] | None = None,
                 track: int = 0, after: float = 0.0) -> CutPlan:
    """``plan`` with every clip edge that lies in speech moved into a real pause (``best_point``).

    ``audio``: the run's 16 kHz WAV, or the source itself (decoded a few seconds per edge;
    ``track`` is its clipped audio stream). ``shots``: the scene cuts, so an edge that was on
    a cut goes to another cut in a pause when there is one, else stays on the cut's side.
    ``picture``: (start, end) of the video track when it is shorter than the sound.
    ``after``: clips that end more than ``edge_search`` before it are left as planned (a pass of
    the incremental walk: they lie before the clips published already, so no edge of theirs can
    move to where a new clip may start; reading their audio again would be wasted)."""
    if not cfg.edge_check or not plan.clips:
        return plan
    reader = EdgeAudio(audio, track)
    sents = sentences.sentences
    index = {s.id: i for i, s in enumerate(sents)}
    cuts = tuple(shots.cuts) if shots else ()
    lo_all, hi_all = (max(0.0, picture[0]), min(duration, picture[1])) if picture else (0.0, duration)
    order = sorted(range(len(plan.clips)), key=lambda i: plan.clips[i].start)
    clips = list(plan.clips)
    moved = 0
    for pos, i in enumerate(order):
        clip = clips[i]
        if clip.end + cfg.edge_search < after:
            continue
        first, last = index[clip.sentence_ids[0]], index[clip.sentence_ids[-1]]
        prev_end = clips[order[pos - 1]].end if pos else lo_all
        nxt = clips[order[pos + 1]] if pos + 1 < len(order) else None
        touches = nxt is not None and nxt.start <= clip.end + 1e-3
        # Start. The gap the plan allows: after the previous sentence, up to the clip's first
        # word. Its reach, when the recogniser's times leave no pause there (words that abut):
        # back to the previous clip, on to the end of the clip's first sentence.
        gap = (max(sents[first - 1].end if first else 0.0, prev_end, lo_all), min(sents[first].start, hi_all))
        reach = (max(prev_end, lo_all), min(sents[first].end, clip.end, hi_all))
        start, start_reason = _refine(reader, clip.start, clip.start_reason, gap, reach, cuts, cfg, -1)
        # End. A clip that touches the next one shares its edge: the edge may move anywhere in
        # the gap (the next clip's start follows it), never past the next clip's first sentence.
        after = sents[last + 1].start if last + 1 < len(sents) else duration
        limit = (sents[index[nxt.sentence_ids[0]]].end if touches else nxt.start) if nxt else duration
        gap = (max(sents[last].end, start), min(after, limit, hi_all))
        reach = (max(sents[last].start, start), min(limit, hi_all))
        end, end_reason = _refine(reader, clip.end, clip.end_reason, gap, reach, cuts, cfg, +1)
        moved += (start != clip.start) + (end != clip.end)
        clips[i] = replace(clip, start=round(start, 3), end=round(end, 3),
                           start_reason=start_reason, end_reason=end_reason)
        if touches:
            clips[order[pos + 1]] = replace(nxt, start=clips[i].end, start_reason=end_reason)
    if moved:
        log.info("%d clip edge(s) moved out of speech into a pause (measured on the audio)", moved)
    return replace(plan, clips=tuple(clips))


def _refine(reader: EdgeAudio, edge: float, reason: str, gap: tuple[float, float], reach: tuple[float, float],
            cuts: Sequence[float], cfg: PlanConfig, direction: int) -> tuple[float, str]:
    """One edge: (where it goes, its reason). ``direction`` -1 for a start, +1 for an end.

    First the ``gap`` between the recogniser's words, then, when no pause lies there, as far as
    ``reach`` (the recogniser's times are what was wrong); both at most ``edge_search`` away."""
    lo, hi = max(gap[0], edge - cfg.edge_search), min(gap[1], edge + cfg.edge_search)
    far_lo, far_hi = max(reach[0], edge - cfg.edge_search), min(reach[1], edge + cfg.edge_search)
    a, b = grid(min(lo, far_lo, edge) - CONTEXT), max(hi, far_hi, edge) + CONTEXT
    try:
        samples = reader.window(a, b)
    except ClipperError as exc:
        log.warning("clip edge at %.2fs not checked against the audio: %s", edge, exc)
        return edge, f"{reason} (not checked: {exc.message})"
    if in_pause(edge, pauses(samples, a, cfg.edge_min_pause)):
        return edge, reason
    spans = pauses(samples, a, cfg.edge_min_pause, SAFETY_DB)
    base = reason.split(" (")[0]
    if base == "scene" and lo <= hi:
        # Another cut in a pause keeps the edge on a cut; failing that, stay on the cut's side,
        # so the clip does not open (close) on a few frames of the neighbouring shot.
        on_cut = [c for c in cuts if lo <= c <= hi and in_pause(c, spans)]
        if on_cut:
            to = min(on_cut, key=lambda c: abs(c - edge))
            return to, f"scene (moved {to - edge:+.2f}s out of speech)"
        side = (max(edge, lo), hi) if direction < 0 else (lo, min(edge, hi))
        to = best_point(edge, *side, spans, direction, cfg.max_pad)
        if to is not None:
            return to, f"pause (moved {to - edge:+.2f}s out of speech; the scene cut was in it)"
    to = best_point(edge, lo, hi, spans, direction, cfg.max_pad) if lo <= hi else None
    if to is not None:
        return to, f"pause (moved {to - edge:+.2f}s out of speech)"
    to = best_point(edge, far_lo, far_hi, spans, direction, cfg.max_pad, nearest=True) if far_lo <= far_hi else None
    if to is not None:
        return to, f"pause (moved {to - edge:+.2f}s out of speech, past the recogniser's word times)"
    log.warning("clip edge at %.2fs is in speech and no pause of %.2fs lies within %.2f-%.2fs",
                edge, cfg.edge_min_pause, far_lo, far_hi)
    return edge, (f"{base} (in speech; could not: no pause within {cfg.edge_search:g}s "
                  f"between {far_lo:.2f}s and {far_hi:.2f}s)")
