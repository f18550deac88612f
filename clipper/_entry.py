"""The console script's entry: signal handlers first, then the command line.

Importing the command line takes a moment (click, pydantic, the config); a Ctrl-C or SIGTERM
in that moment exits at once with the documented line and code (130, 143) instead of a
KeyboardInterrupt traceback. ``_Group.invoke`` in ``cli.py`` then takes over with handlers
that stop after saving what is done.
"""

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


def main() -> None:
    install()
    from .cli import main as cli

    cli()
