"""Scene cuts read while the recogniser is still working, on a core it leaves idle.

A window's pass searches the silences around its clips' edges for scene cuts (``ShotFinder``)
only once the window is heard: after the last window of a run, that search is the biggest
part of what a run adds to transcription (2.6-3.1 s of the 10-minute benchmark stream's 60 s
on 2 cores). Yet while the recogniser runs, part of a core sits idle: its threads wait on
each other and on the Python decode loop between calls.

So a thread at the scheduler's idle priority (Linux ``SCHED_IDLE``: it runs only when a core
has nothing else to do, so it takes nothing from the recogniser or from renders) reads the
gaps between the sentences heard so far, ``plan.gap_windows`` of each gap: what a plan reads
in a gap depends on the two sentences alone, so the pass finds those windows read. A gap no
clip edge uses costs only idle time; a window the prefetch did not reach is read by the pass,
as before. The cuts are the same either way: each window is read on its own, from the
keyframe before it, whichever thread reads it.

Idle is not free, though: on the 2-core VM this was measured on (whose two vCPUs may share a
physical core), the recogniser with both cores took 2 s longer with the prefetch reading
beside it than the pass took after it (10-minute stream, base: 71.8 and 73.0 s against 69.7
and 71.1 s, alternating). So ``scenes.prefetch = "auto"`` prefetches only where the
recogniser leaves a core to itself: a GPU recognising, or more cores than recogniser threads.
Where the thread cannot be given idle priority (not Linux), nothing is prefetched: at normal
priority it would only move the same work earlier, at the recogniser's expense.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from ..config import Config
from ..media.ffmpeg import media_path
from ..plan import gap_windows
from ..scenes import WindowScanner
from ..sentences import split_sentences
from ..transcribe.whisper import ChunkResult, assemble
from ..types import MediaInfo
from .stages import ShotFinder

log = logging.getLogger(__name__)

# Seconds of newly heard speech between two looks at the sentences (each look splits the
# last window's words into sentences again).
LOOK_EVERY = 15.0
# The last sentences heard may still grow or be joined to the next: their gaps wait a look.
UNSETTLED = 2


def idle_priority() -> bool:
    """Give the calling thread the idle scheduling class (Linux; per thread there). False
    where that is not possible."""
    if not sys.platform.startswith("linux") or not hasattr(os, "SCHED_IDLE"):
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))   # 0: this thread, on Linux
    except OSError as exc:
        log.debug("no idle priority for the scene prefetch: %s", exc)
        return False
    return True


def prefetch_wanted(mode: str, device: str, cores: int, recogniser_threads: int) -> bool:
    """``scenes.prefetch`` for a recogniser on ``device`` with that many threads (pure)."""
    if mode != "auto":
        return mode == "on"
    return device != "cpu" or cores > recogniser_threads


def prefetch_windows(chunks: list[ChunkResult], config: Config, model_name: str) -> list[tuple[float, float]]:
    """The windows of the settled gaps between the sentences of ``chunks`` (consecutive
    windows of the journal, the last one possibly still being heard); the silence before the
    first sentence too when ``chunks`` start the source (pure)."""
    if not chunks:
        return []
    transcript = assemble(chunks, chunks[-1].end, model_name)
    sents = split_sentences(transcript, config.sentences).sentences
    windows = gap_windows(0.0, sents[0].start, config.plan) if sents and chunks[0].start == 0.0 else []
    for before, after in zip(sents[:-UNSETTLED], sents[1:len(sents) - UNSETTLED + 1]):
        windows += gap_windows(before.end, after.start, config.plan)
    return windows


class ScenePrefetch:
    """The prefetch thread of one walk over a complete file. ``hearing`` and ``heard`` are
    called from the transcribing thread; ``stop`` (no more looks) and ``close`` (stop and
    wait) from the walk's."""

    def __init__(self, finder: ShotFinder, info: MediaInfo, config: Config, model_name: str) -> None:
        self.finder, self.info, self.config, self.model_name = finder, info, config, model_name
        self.read = 0                       # windows read here (for logs and tests)
        self.idle: bool | None = None       # whether the thread got idle priority
        self._settled: ChunkResult | None = None
        self._partial: ChunkResult | None = None
        self._heard_until = self._looked_until = 0.0
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="clipper-scene-prefetch", daemon=True)
        self._thread.start()

    @staticmethod
    def wanted(info: MediaInfo, config: Config) -> bool:
        if not (config.scenes.enabled and info.has_video) or config.scenes.prefetch == "off":
            return False
        from ..transcribe.whisper import local_runtime, recogniser_threads

        tc = config.transcribe
        device = local_runtime(tc)[0]
        cores = os.cpu_count() or 1
        return prefetch_wanted(config.scenes.prefetch, device, cores, recogniser_threads(tc.threads, os.environ, cores))

    # -- from the transcribing thread ----------------------------------------------------------
    def hearing(self, partial: ChunkResult) -> None:
        """The window being heard, as far as it is decoded."""
        with self._wake:
            self._partial = partial
            self._heard_to(partial.end)

    def heard(self, chunk: ChunkResult) -> None:
        """A window heard to its end (the journal's version of it)."""
        with self._wake:
            self._settled, self._partial = chunk, None
            self._heard_to(chunk.end)

    def _heard_to(self, until: float) -> None:
        """(With ``_wake`` held.) A look is due after ``LOOK_EVERY`` seconds more."""
        self._heard_until = max(self._heard_until, until)
        if self._heard_until - self._looked_until >= LOOK_EVERY:
            self._wake.notify()

    # -- from the walk's thread ----------------------------------------------------------------
    def stop(self) -> None:
        """No more looks; the window being read is dropped at its next frame."""
        with self._wake:
            self._stopping = True
            self._wake.notify()

    def close(self) -> None:
        """Stop and wait for the thread (a native decoder must not outlive the interpreter).
        Called once the walk's own work is done, when the thread gets a core at once."""
        self.stop()
        self._thread.join()
        if self.read:
            log.debug("scene prefetch read %d window(s)", self.read)

    # -- the thread ----------------------------------------------------------------------------
    def _next_look(self) -> list[ChunkResult] | None:
        with self._wake:
            self._wake.wait_for(lambda: self._stopping or self._heard_until - self._looked_until >= LOOK_EVERY)
            if self._stopping:
                return None
            self._looked_until = self._heard_until
            return [c for c in (self._settled, self._partial) if c is not None]

    def _run(self) -> None:
        self.idle = idle_priority()
        if not self.idle:
            return
        scanner: WindowScanner | None = None
        try:
            while (chunks := self._next_look()) is not None:
                for window in prefetch_windows(chunks, self.config, self.model_name):
                    if self._stopping:
                        return
                    if self.finder.known(window):
                        continue
                    if scanner is None:
                        scanner = WindowScanner(media_path(self.info.path), self.info.path, self.config.scenes)
                    cuts = scanner.cuts(window, should_stop=lambda: self._stopping)
                    if cuts is not None:
                        self.finder.add(window, cuts)
                        self.read += 1
        except Exception as exc:  # noqa: BLE001 - the pass reads what is missing and reports its errors
            log.debug("scene prefetch stopped: %s", exc)
        finally:
            if scanner is not None:
                scanner.close()
