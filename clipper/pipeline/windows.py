"""Where a run's transcript windows come from: a complete file, or a recording still being written.

Both append each window to the journal through ``on_window`` (the walk's ``add_window``)
as soon as it is transcribed, and both resume after the last journaled window.

- A complete file: its audio is extracted once to ``.clipper/audio.wav`` and read in windows
  of ``transcribe.chunk_seconds`` that end at quiet points (``chunk_bounds``), so memory is
  bounded however long the stream. The next window is transcribed in a thread while the walk
  passes over the one before it (``read_ahead``): with a GPU recognising, the CPU's pass (scene
  search, segmentation, edge checks) no longer waits for it, nor it for the pass. On 2 CPU
  cores it gains nothing measurable (the recogniser's threads already keep both busy: a scene
  search run beside it slowed it by as much as it took), and costs nothing either.
- A growing recording: each read takes the audio that arrived since the last window, up to a
  quiet point a few seconds short of the end (the words there may still be arriving), at
  most one window at a time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..config import TranscribeConfig
from ..media.audio import (
    extract_audio,
    extract_audio_argv,
    quietest_point,
    read_window,
    wav_duration,
)
from ..media.ffmpeg import run_ffmpeg
from ..progress import Progress
from ..transcribe.whisper import ChunkResult, transcribe_audio, transcribe_chunks
from ..types import MediaInfo
from ..workspace import Workspace, set_aside
from .journal import Journal

log = logging.getLogger(__name__)
T = TypeVar("T")
MIN_NEW_AUDIO = 6.0     # seconds of new audio in a growing recording worth a window
TAIL_SEARCH = 4.0       # a growing recording's window ends at the quietest point of its last seconds


def hear_file(model: Callable[[], object], info: MediaInfo, ws: Workspace, journal: Journal, cfg: TranscribeConfig,
              progress: Progress, on_window: Callable[[ChunkResult], None],
              checkpoint: Callable[[], None], on_partial: Callable[[ChunkResult], None] | None = None) -> None:
    """Transcribe the rest of a complete file, window by window, then mark the journal's end.

    ``model`` is called (the recogniser loaded) in a thread while ffmpeg extracts the audio:
    the two took 1.1 and 0.9 s one after the other for a 10-minute stream on 2 cores. A model
    that cannot load still stops the run before transcription, and stops the extraction
    as soon as it fails. The run's WAV (``.clipper/audio.wav``) is left for the caller: the
    walk's last passes check clip edges on it (``remove_audio`` once they are done)."""
    if journal.end is not None:
        return
    audio = ws.usable("audio.wav")
    with ThreadPoolExecutor(1, thread_name_prefix="clipper-model") as pool:
        loading = pool.submit(model)
        if not journal.windows or not _wav_ok(audio):
            with progress.task("extracting audio", info.duration) as task:
                def extracted(seconds: float) -> None:
                    task.update(seconds)
                    if loading.done() and loading.exception() is not None:
                        raise loading.exception()   # ffmpeg is stopped, the partial WAV removed
                extract_audio(info, audio, on_progress=extracted)
        recogniser = loading.result()
    resume = journal.transcribed_until
    with progress.task(f"transcribing ({cfg.model})", info.duration) as task:
        task.update(resume)
        stop = threading.Event()
        chunks = transcribe_chunks(recogniser, audio, cfg, language=journal.language, resume_from=resume,
                                   should_stop=stop.is_set, on_partial=on_partial)
        # closing(): the thread is stopped and waited for when this loop is left by an error,
        # not whenever the suspended generator is collected.
        with closing(read_ahead(chunks, stop)) as windows:
            for chunk in windows:
                task.update(chunk.end)
                on_window(chunk)
                checkpoint()
    journal.mark_end(info.duration)


def remove_audio(ws: Workspace) -> None:
    """The run's WAV once nothing reads it: 115 MB an hour, and re-extracting is cheap next to
    transcribing (an interrupted run keeps it for its resume)."""
    ws.path("audio.wav").unlink(missing_ok=True)


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def read_ahead(items: Iterator[T], stop: threading.Event | None = None) -> Iterator[T]:
    """``items``, each next one computed in a thread while the caller works on the one before.

    At most one item waits (bounded memory: one window ahead). An error in the thread is
    raised here, in the caller's thread. When the caller stops early (an error, Ctrl-C, a
    stop request) ``stop`` is set and the thread is waited for: it makes no more items, and
    ``items`` should watch ``stop`` to drop the one in hand quickly. The wait is not optional:
    a native library (CTranslate2) still running in a thread when the interpreter exits
    aborts the process ("terminate called without an active exception")."""
    box: queue.Queue = queue.Queue(maxsize=1)
    stop = stop if stop is not None else threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    entered = threading.Event()

    def produce() -> None:
        entered.set()
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            hand_over(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="clipper-read-ahead", daemon=True)
    launched = False
    try:
        try:
            worker.start()
        except RuntimeError:          # the thread could not be made
            raise
        except BaseException:
            # A stop signal that lands while start() waits for the new thread to run raises
            # out of start() with the thread running but not yet alive to is_alive() and
            # join(): left so, it decoded on past the command's exit (a CI run saw its log
            # line after "clipper: stopped"). It is waited for below all the same.
            launched = True
            raise
        launched = True
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        if launched:
            entered.wait()            # its start may have been cut short (above)
            if worker.is_alive():
                log.debug("waiting for the read-ahead window to stop")
            worker.join()


class GrowingRecording:
    """Windows of a recording that is still being written."""

    def __init__(self, source: Path, ws: Workspace, cfg: TranscribeConfig, model: Callable[[], object]) -> None:
        self.source, self.ws, self.cfg, self.model = source, ws, cfg, model

    def read(self, journal: Journal, final: bool) -> tuple[ChunkResult | None, bool]:
        """One window of the audio that arrived (None when too little did); and whether more
        is already waiting."""
        start = journal.transcribed_until
        wav = self.ws.path("live_audio.wav")
        window = self.cfg.chunk_seconds
        try:
            run_ffmpeg(extract_audio_argv(self.source, wav, start, window + TAIL_SEARCH + 1.0),
                       what="reading the growing recording failed")
        except Exception as exc:  # noqa: BLE001 - a file mid-write can fail to parse for a moment
            if final:
                raise
            log.info("%s: not readable yet (%s)", self.source.name, exc)
            return None, False
        available = wav_duration(wav)
        more = available > window
        if available < (0.5 if final else MIN_NEW_AUDIO):
            return None, False
        end = available
        if more or not final:
            edge = min(available, window + TAIL_SEARCH) - 1.0
            lo = max(0.0, edge - TAIL_SEARCH)
            end = quietest_point(read_window(wav, lo, edge), lo)
        chunk = transcribe_audio(self.model(), read_window(wav, 0.0, end), start, self.cfg, journal.language)
        wav.unlink(missing_ok=True)
        return chunk, more


def _wav_ok(path: Path) -> bool:
    """Is the work folder's audio a WAV that reads (kept from an interrupted run)?"""
    if not path.is_file():
        return False
    try:
        wav_duration(path)
        return True
    except Exception as exc:  # noqa: BLE001 - wave.Error, EOFError, a truncated header
        set_aside(path, f"unreadable audio ({exc})")
        return False


def release_freed_memory() -> None:
    """Hand the heap freed by a window back to the system (glibc; elsewhere nothing).

    Each window's audio, features and decoder buffers are tens of MB, made and freed in
    whichever thread's malloc arena; glibc keeps freed arena pages, so without this a long
    stream's process grows window by window instead of staying at one window's size."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@lru_cache(maxsize=1)
def _malloc_trim():
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):   # no glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    return trim
