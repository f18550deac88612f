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


def _stopped_early(signum, _frame) -> None:
    sys.stderr.write("clipper: interrupted\n" if signum == signal.SIGINT else "clipper: stopped (SIGTERM)\n")
    sys.stderr.flush()
    os._exit(130 if signum == signal.SIGINT else 143)


def install() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped_early)


def main() -> None:
    install()
    from .cli import main as cli

    cli()
