"""How a stopped command ends: the line and exit code per signal, and the handlers that say
so during start-up (before the command line's own take over)."""

from __future__ import annotations

import os
import signal
import sys
from typing import Callable

from .errors import Interrupted

# The signals that asked the running command to stop, set by the command line's handler. The
# KeyboardInterrupt it raises can be lost: a signal that lands while Python runs a finaliser
# (``__del__``) has its exception printed and dropped. The pipeline's stop checks read this
# too, so the run still stops at its next step.
_signals: list[int] = []


def request(signum: int) -> None:
    """Ask the running command to stop (from a signal handler)."""
    _signals.append(signum)


def requested() -> bool:
    return bool(_signals)


def never() -> bool:
    return False


def stop_if(should_stop: Callable[[], bool], what: str) -> None:
    """A stop check inside a long step (between two decoded segments): work in a thread must
    end soon after its run stops, as a native library still running in a thread when the
    interpreter exits aborts the process."""
    if should_stop():
        raise Interrupted(f"stopped {what}")


def first_signal() -> int | None:
    """The signal that first asked to stop, if one did."""
    return _signals[0] if _signals else None


def reset() -> None:
    """A new command starts (the command line can be invoked many times in one process)."""
    _signals.clear()


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
