"""The watch-folder daemon: ``clipper watch INBOX OUTBOX [--live]``.

- ``service.py``: the front (signals, log file, a background thread for the Python API);
- ``watcher.py``: finds sources, decides when they are complete, runs their jobs;
- ``jobs.py``: the durable job table (SQLite);
- ``segments.py``: HLS segment folders joined into one source.

Every job goes through the one pipeline: ``Pipeline.run`` for a complete file,
``Pipeline.live`` (the same walk) for a recording still being written.
"""

from .jobs import Job, JobStore
from .service import run_daemon, start_watcher
from .watcher import Watcher

__all__ = ["Job", "JobStore", "Watcher", "run_daemon", "start_watcher"]
