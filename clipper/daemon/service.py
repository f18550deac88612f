"""The watch-folder daemon front: signals, log file, and a thread for the Python API.

SIGTERM or Ctrl-C asks the watcher to stop after the step in hand (a stage, a clip); the
job goes back to pending and the next start resumes it from the saved stages.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from ..config import Config
from .watcher import Watcher

log = logging.getLogger(__name__)


def _log_to_file(outbox: Path) -> logging.Handler:
    (outbox / ".clipper").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(outbox / ".clipper" / "daemon.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
        for h in root.handlers:  # stderr keeps the verbosity the user asked for
            if h is not handler and h.level == logging.NOTSET:
                h.setLevel(logging.WARNING)
    return handler


def run_daemon(inbox: Path, outbox: Path, config: Config, live: bool | None = None) -> None:
    """Watch until SIGTERM/SIGINT (the command line's ``clipper watch``)."""
    watcher = Watcher(inbox, outbox, config, live=live)
    handler = _log_to_file(outbox)

    def on_signal(signum, _frame):
        log.info("signal %d: stopping after the current step", signum)
        watcher.stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        watcher.run()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        logging.getLogger().removeHandler(handler)
        handler.close()


def start_watcher(inbox: str | Path, outbox: str | Path, config: Config, live: bool | None = None) -> Watcher:
    """Python API: watch in a background thread; call ``.stop()`` and ``.thread.join()`` to end."""
    watcher = Watcher(Path(inbox), Path(outbox), config, live=live)
    watcher.thread = threading.Thread(target=watcher.run, name="clipper-watch", daemon=True)  # type: ignore[attr-defined]
    watcher.thread.start()  # type: ignore[attr-defined]
    return watcher
