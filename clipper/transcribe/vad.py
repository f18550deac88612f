"""Silero VAD probabilities computed once per window, for both passes that read them.

Each window is read by the VAD twice: faster-whisper's own filter (threshold 0.5, which
stretches to decode) and the dropped-speech check (``dropped.speech_spans``, threshold 0.35,
what speech the decode left out). The thresholds, pauses and padding differ; the network's
per-frame speech probabilities do not: they depend on the audio alone. Computing them is
the whole cost (1.8 s of a 10-minute window on 2 cores, about 5 % of its transcription), so
the model faster-whisper hands out is wrapped to remember the probabilities of the last
audio it scored, per thread, and the second pass reads them back.

faster-whisper's ``get_speech_timestamps`` asks ``faster_whisper.vad.get_vad_model()`` for
the model at every call; that name is replaced (once, by ``install``) with one returning the
wrapped model. Thresholding stays faster-whisper's own code.
"""

from __future__ import annotations

import functools
import hashlib
import threading

import numpy as np


class SharedProbabilities:
    """A Silero model that scores the same audio only once in a row (per thread).

    The audio is recognised by its length and a hash of its samples (about 40 ms for a
    10-minute window), never by the array's identity: faster-whisper pads a fresh copy each
    time. One result is kept per thread (a read-ahead thread and the caller may both use the
    VAD), so memory stays at one window's probabilities (75 KB for 10 minutes)."""

    def __init__(self, model) -> None:
        self.model = model
        self.scored = 0            # how many times the network ran (tests read it)
        self._last = threading.local()

    def __call__(self, audio: np.ndarray, *args, **kwargs) -> np.ndarray:
        key = (audio.shape, audio.dtype.str, args, tuple(sorted(kwargs.items())),
               hashlib.blake2b(memoryview(np.ascontiguousarray(audio)).cast("B"), digest_size=16).digest())
        last = getattr(self._last, "value", None)
        if last is not None and last[0] == key:
            return last[1]
        probs = self.model(audio, *args, **kwargs)
        self.scored += 1
        self._last.value = (key, probs)
        return probs

    def __getattr__(self, name: str):
        return getattr(self.model, name)


_lock = threading.Lock()


def install() -> SharedProbabilities:
    """Make faster-whisper's VAD share probabilities between passes; idempotent. Returns the
    shared model (loading it: a damaged asset or runtime raises here, at model load)."""
    from faster_whisper import vad

    with _lock:
        current = vad.get_vad_model()
        if isinstance(current, SharedProbabilities):
            return current
        shared = SharedProbabilities(current)
        vad.get_vad_model = functools.lru_cache(maxsize=None)(lambda: shared)
        return shared
