"""Audio extraction (16 kHz mono PCM WAV) and bounded-memory reading of it."""

from __future__ import annotations

import logging
import os
import re
import wave
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import NoAudioError
from ..types import MediaInfo
from .ffmpeg import ffmpeg_command, run_ffmpeg

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
# What ffmpeg says when it skips damaged data (a demuxer resyncing, a decoder concealing).
_DAMAGE = re.compile(r"changing packet size|corrupt|invalid data|error while decoding|concealing|"
                     r"non[- ]monoton|missing picture|decode_slice|skipping", re.IGNORECASE)


def extract_audio_argv(source: str | Path, dest: str | Path, start: float = 0.0,
                       seconds: float | None = None, track: int = 0) -> list[str]:
    """16 kHz mono PCM WAV of an audio track (the first by default), optionally of [start, start + seconds).

    The WAV starts at the file's start even when the sound starts later (silence is put in
    front), so a word's time in the WAV is its time in the source, where clips are cut.
    """
    span = (["-ss", f"{start:.3f}"] if start else []) + (["-t", f"{seconds:.3f}"] if seconds else [])
    return ffmpeg_command(*span, "-i", str(source), "-map", f"0:a:{track}", "-vn",
                          "-af", "aresample=async=1:first_pts=0",
                          "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(dest))


def extract_audio(info: MediaInfo, dest: Path, on_progress: Callable[[float], None] | None = None) -> Path:
    """Decode the first audio track to 16 kHz mono WAV at ``dest`` (written atomically)."""
    if not info.has_audio:
        raise NoAudioError("has no audio track: there is no speech to clip", path=info.path)
    tmp = dest.with_name(dest.name + ".part")
    if info.audio_tracks > 1:
        log.info("%s: %d audio tracks; transcribing and clipping track %d (the default one)",
                 info.path, info.audio_tracks, info.audio_track)
    try:
        stderr = run_ffmpeg(extract_audio_argv(info.path, tmp, track=info.audio_track),
                            what="audio extraction failed", on_progress=on_progress)
        damage = next((ln.strip() for ln in stderr.splitlines() if _DAMAGE.search(ln)), None)
        if damage:
            log.warning("%s: damaged data in the recording was skipped; the rest is clipped (ffmpeg: %s)",
                        info.path, damage)
        got = wav_duration(tmp)
        if got < info.duration - max(2.0, 0.05 * info.duration):
            # Damaged in the middle, or cut short: clip what decodes, and say so.
            log.warning("%s: only %.1fs of %.1fs of audio could be decoded", info.path, got, info.duration)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wf:
        return wf.getnframes() / float(wf.getframerate())


def read_window(path: Path, start: float, end: float) -> np.ndarray:
    """Samples [start, end) seconds of a 16 kHz mono s16 WAV as float32 in [-1, 1]."""
    with wave.open(str(path), "rb") as wf:
        rate = wf.getframerate()
        first = max(0, int(round(start * rate)))
        last = min(wf.getnframes(), int(round(end * rate)))
        if last <= first:
            return np.zeros(0, dtype=np.float32)
        wf.setpos(first)
        raw = wf.readframes(last - first)
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def quietest_point(samples: np.ndarray, offset: float, frame: float = 0.2) -> float:
    """Time (seconds, offset added) of the centre of the quietest ``frame``-long stretch."""
    hop = int(frame * SAMPLE_RATE)
    n = len(samples) // hop
    if n == 0:
        return offset + len(samples) / SAMPLE_RATE
    energy = np.square(samples[: n * hop].reshape(n, hop)).mean(axis=1)
    best = int(np.argmin(energy))
    return offset + (best + 0.5) * frame


def chunk_bounds(path: Path, chunk_seconds: float, search: float = 30.0) -> Iterator[tuple[float, float]]:
    """Split a WAV into windows of about ``chunk_seconds``, each ending at a quiet point.

    Windows end where speech is least likely (lowest energy in the last ``search`` seconds),
    so the recogniser rarely sees a word cut in two. Only one search window is in memory.
    """
    total = wav_duration(path)
    start = 0.0
    while start < total:
        nominal = start + chunk_seconds
        if nominal >= total - 1.0:
            yield start, total
            return
        lo = max(start + chunk_seconds / 2, nominal - search)
        end = quietest_point(read_window(path, lo, nominal), lo)
        yield start, end
        start = end
