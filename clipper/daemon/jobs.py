"""Durable jobs for the watch daemon: one SQLite table under ``OUTBOX/.clipper/``.

A job moves pending -> running -> done, or back to pending after a failure until
``max_attempts``, then failed. Every move is one transaction, so a daemon killed at any
moment (kill -9 included) leaves a consistent table: on start, jobs left "running" by a
process that no longer exists go back to pending, and the pipeline's own stage cache makes
the rerun finish the work instead of repeating it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id        INTEGER PRIMARY KEY,
    source    TEXT NOT NULL UNIQUE,
    out_dir   TEXT NOT NULL UNIQUE,
    state     TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts  INTEGER NOT NULL DEFAULT 0,
    pid       INTEGER,
    error     TEXT,
    clips     INTEGER,
    created   REAL NOT NULL,
    updated   REAL NOT NULL,
    retry_at  REAL NOT NULL DEFAULT 0
);
"""


@dataclass(frozen=True)
class Job:
    id: int
    source: str
    out_dir: str
    state: str
    attempts: int
    pid: int | None
    error: str | None
    clips: int | None
    created: float
    updated: float
    retry_at: float = 0.0


class JobStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a claim is atomic
        # between two processes sharing the file.
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _rows(self, sql: str, *args: object) -> list[Job]:
        return [Job(*row) for row in self.db.execute(sql, args).fetchall()]

    def add(self, source: str, out_dir: str) -> bool:
        """Register a source once; False when it is known already."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute("INSERT OR IGNORE INTO jobs (source, out_dir, state, created, updated) "
                             "VALUES (?, ?, 'pending', ?, ?)", (source, out_dir, now, now))
            return cur.rowcount == 1

    def known(self, source: str) -> Job | None:
        rows = self._rows("SELECT * FROM jobs WHERE source = ?", source)
        return rows[0] if rows else None

    def out_dir_taken(self, out_dir: str) -> bool:
        return bool(self.db.execute("SELECT 1 FROM jobs WHERE out_dir = ?", (out_dir,)).fetchone())

    def recover(self) -> int:
        """Jobs left running by a killed daemon go back to pending.

        Called only by the daemon holding the OUTBOX lock, so no job can be running
        elsewhere: every "running" row is a leftover.
        """
        with self._tx() as db:
            cur = db.execute("UPDATE jobs SET state = 'pending', pid = NULL, updated = ? WHERE state = 'running'",
                             (time.time(),))
            return cur.rowcount

    def release(self, job_id: int) -> None:
        """Put a job back without counting the attempt (the daemon was asked to stop)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET state = 'pending', pid = NULL, attempts = MAX(0, attempts - 1), "
                       "updated = ? WHERE id = ?", (time.time(), job_id))

    def claim(self) -> Job | None:
        with self._tx() as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'pending' AND retry_at <= ? "
                             "ORDER BY created, id LIMIT 1", (time.time(),)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', pid = ?, attempts = attempts + 1, updated = ? "
                       "WHERE id = ?", (os.getpid(), time.time(), row[0]))
        return self._rows("SELECT * FROM jobs WHERE id = ?", row[0])[0]

    def finish(self, job_id: int, clips: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET state = 'done', pid = NULL, error = NULL, clips = ?, updated = ? "
                       "WHERE id = ?", (clips, time.time(), job_id))

    def fail(self, job_id: int, error: str, max_attempts: int, backoff: float = 30.0) -> str:
        """Record a failure; retried after a growing pause until max_attempts. Returns the new state."""
        with self._tx() as db:
            attempts = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
            state = "pending" if attempts < max_attempts else "failed"
            now = time.time()
            db.execute("UPDATE jobs SET state = ?, pid = NULL, error = ?, updated = ?, retry_at = ? WHERE id = ?",
                       (state, error, now, now + backoff * attempts, job_id))
        return state

    def all(self) -> list[Job]:
        return self._rows("SELECT * FROM jobs ORDER BY created, id")

    def close(self) -> None:
        self.db.close()

