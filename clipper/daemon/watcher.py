"""The watcher: sources that land in INBOX become clips in OUTBOX/<name>/.

Inputs are found by watchdog events and by a periodic rescan (events get lost on network
drives). A file counts as complete once its size and time stamp have held still for
``stable_seconds``; a folder of MPEG-TS segments (an HLS recording) counts as one source
(``segments.py``). With ``live`` on, a growing recording is clipped while it is written: the
pipeline's own walk over a recording that is still growing (``Pipeline.live``). Jobs are
durable (``jobs.JobStore``) and one daemon at a time holds an OUTBOX (a lock file).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from ..config import Config
from ..errors import ClipperError, Interrupted, MediaNotFoundError, WorkspaceError
from ..workspace import FolderLock, write_json_atomic
from .jobs import Job, JobStore
from .segments import join_segments, segment_files

log = logging.getLogger(__name__)
GROWING_FORMATS = {".ts", ".mkv", ".flv"}   # readable while written; MP4 needs its index at the end
PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".download")


@dataclass
class _Seen:
    signature: tuple[int, float, int]
    since: float


def source_signature(path: Path) -> tuple[int, float, int]:
    """(total size, newest mtime, file count) of a file or a segment folder."""
    if path.is_dir():
        parts = segment_files(path)
        return (sum(p.stat().st_size for p in parts), max((p.stat().st_mtime for p in parts), default=0.0),
                len(parts))
    st = path.stat()
    return st.st_size, st.st_mtime, 1


class Watcher:
    def __init__(self, inbox: Path, outbox: Path, config: Config, live: bool | None = None) -> None:
        self.inbox, self.outbox, self.config = inbox, outbox, config
        self.live = config.watch.live if live is None else live
        self.stop_requested = threading.Event()
        self.wake = threading.Event()
        self._seen: dict[str, _Seen] = {}
        self._pipeline = None

    # -- finding sources ------------------------------------------------------------------
    def candidates(self) -> list[Path]:
        out = []
        exts = {e.lower() for e in self.config.watch.extensions}
        for entry in sorted(self.inbox.iterdir()):
            if entry.name.startswith(".") or entry.name.endswith(PARTIAL_SUFFIXES):
                continue
            if entry.is_file() and entry.suffix.lower() in exts:
                out.append(entry)
            elif entry.is_dir() and segment_files(entry):
                out.append(entry)
        return out

    def is_stable(self, path: Path, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        try:
            sig = source_signature(path)
        except OSError:
            return False
        seen = self._seen.get(str(path))
        if seen is None or seen.signature != sig:
            self._seen[str(path)] = _Seen(sig, now)
            return self.config.watch.stable_seconds == 0 and sig[0] > 0
        return sig[0] > 0 and now - seen.since >= self.config.watch.stable_seconds

    def next_look(self, now: float | None = None) -> float:
        """Seconds until the loop must look again: the rescan interval, or sooner when a file
        seen changing becomes due for its stability check (a file that stops changing sends no
        more file events to wake the loop)."""
        now = time.monotonic() if now is None else now
        due = [seen.since + self.config.watch.stable_seconds - now for seen in self._seen.values()
               if now - seen.since < self.config.watch.stable_seconds]
        return max(0.05, min([self.config.watch.rescan_seconds, *due]))

    def scan(self, store: JobStore) -> None:
        for path in self.candidates():
            key = str(path.resolve())
            if store.known(key):
                continue
            growing_ok = self.live and (path.is_dir() or path.suffix.lower() in GROWING_FORMATS)
            if growing_ok or self.is_stable(path):
                out = self._out_dir_for(path, store)
                if store.add(key, str(out)):
                    log.info("new source: %s -> %s", path.name, out)

    def _out_dir_for(self, path: Path, store: JobStore) -> Path:
        name = path.stem if path.is_file() else path.name
        out = self.outbox / name
        if store.out_dir_taken(str(out)):  # same name, another source (a.mp4 and a.mov)
            out = self.outbox / f"{name}-{hashlib.sha256(str(path).encode()).hexdigest()[:6]}"
        return out

    # -- running jobs ---------------------------------------------------------------------
    def pipeline(self):
        from ..pipeline import Pipeline

        if self._pipeline is None:  # one model load for every job of this daemon
            self._pipeline = Pipeline(self.config, should_stop=self.stop_requested.is_set)
        return self._pipeline

    def process(self, store: JobStore, job: Job) -> None:
        source, out = Path(job.source), Path(job.out_dir)
        error_file = out.with_name(out.name + ".error.json")
        log.info("job %d: %s (attempt %d)", job.id, source.name, job.attempts)
        try:
            if not source.exists():   # deleted or renamed while queued (a rename is a new source)
                raise MediaNotFoundError(source)
            if self.live and (source.is_dir() or source.suffix.lower() in GROWING_FORMATS) \
                    and not self.is_stable(source):
                manifest = self._run_live(source, out)
            else:
                manifest = self.pipeline().run(join_segments(source, out), out).manifest
        except Interrupted:
            store.release(job.id)
            log.info("job %d: stopped on request, will resume", job.id)
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input must not stop the daemon
            message = str(exc) if isinstance(exc, ClipperError) else f"{type(exc).__name__}: {exc}"
            # A source that is gone will not come back under its name: no retries for it.
            gone = isinstance(exc, MediaNotFoundError)
            state = store.fail(job.id, message, job.attempts if gone else self.config.watch.max_attempts)
            write_json_atomic(error_file, {"source": str(source), "error": message, "state": state,
                                           "attempts": job.attempts, "time": time.time(),
                                           "detail": traceback.format_exc(limit=3)})
            log.error("job %d: %s: %s (%s)", job.id, source.name, message, state)
            return
        error_file.unlink(missing_ok=True)
        store.finish(job.id, len(manifest["clips"]))
        log.info("job %d: done, %d clips in %s", job.id, len(manifest["clips"]), out)

    def _run_live(self, source: Path, out: Path) -> dict:
        if not source.is_dir():
            return self.pipeline().live(source, out, lambda: self.is_stable(source)).manifest

        def complete_and_join() -> bool:
            done = self.is_stable(source)
            join_segments(source, out, complete=done)
            return done

        joined = join_segments(source, out, complete=False)
        return self.pipeline().live(joined, out, complete_and_join).manifest

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        if not self.inbox.is_dir():
            raise WorkspaceError("inbox is not a folder", path=str(self.inbox))
        self.outbox.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(self.outbox, "daemon.lock", "clipper watch")
        store = JobStore(self.outbox / ".clipper" / "jobs.sqlite")
        observer = self._start_observer()
        try:
            recovered = store.recover()
            if recovered:
                log.info("%d interrupted job(s) will be resumed", recovered)
            log.info("watching %s -> %s%s", self.inbox, self.outbox, " (live)" if self.live else "")
            while not self.stop_requested.is_set():
                self.scan(store)
                job = store.claim()
                if job is not None:
                    try:
                        self.process(store, job)
                    except Interrupted:
                        break
                    continue
                self.wake.wait(self.next_look())
                self.wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(timeout=5)
            store.close()
            lock.release()
            log.info("watcher stopped")

    def stop(self) -> None:
        self.stop_requested.set()
        self.wake.set()

    def _start_observer(self):
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.warning("watchdog is not installed: rescanning every %.0fs only", self.config.watch.rescan_seconds)
            return None
        wake = self.wake

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):  # any change: look again now
                wake.set()

        observer = Observer()
        observer.schedule(Handler(), str(self.inbox), recursive=True)
        observer.daemon = True
        observer.start()
        return observer
