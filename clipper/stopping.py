"""How a stopped command ends: the line and exit code per signal, and the handlers that say
so during start-up (before the command line's own take over)."""

from __future__ import annotations

import os
import signal
import sys


def stopped_line(signum: int) -> tuple[str, int]:
    """The line and exit code for a run stopped by ``signum`` (Ctrl-C: 130, SIGTERM: 143)."""
    if signum == signal.SIGTERM:
        return "clipper: stopped (SIGTERM); the next run resumes", 143
    return "clipper: interrupted", 130


def _stopped_early(signum, _frame) -> None:
    line, code = stopped_line(signum)
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    os._exit(code)


def install() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped_early)
