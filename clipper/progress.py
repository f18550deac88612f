"""Progress reporting without tying the library to a terminal.

Stages call ``progress.task(name, total)`` and ``advance``/``update`` it; the CLI passes a
rich-backed reporter, library users pass nothing (progress is then only logged).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, contextmanager
from typing import Iterator, Protocol

log = logging.getLogger("clipper.progress")


class Task(Protocol):
    def update(self, completed: float) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: float | None) -> AbstractContextManager[Task]: ...


class _LogTask:
    def __init__(self, description: str, total: float | None) -> None:
        self.description, self.total, self._last = description, total, -1

    def update(self, completed: float) -> None:
        if self.total:
            decile = int(10 * completed / self.total)
            if decile != self._last:
                self._last = decile
                log.debug("%s: %d%%", self.description, min(100, decile * 10))


class LogProgress:
    def __enter__(self) -> "LogProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        log.info("%s…", description)
        yield _LogTask(description, total)


class RichProgress:
    """Progress bars on stderr (used by the command line)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress as RP, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self._rp = RP(TextColumn("{task.description:<28}"), BarColumn(), TaskProgressColumn(),
                      TimeElapsedColumn(), console=Console(stderr=True), transient=False)

    def __enter__(self) -> "RichProgress":
        self._rp.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._rp.stop()

    @contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        task_id = self._rp.add_task(description, total=total)
        rp = self._rp

        class _T:
            def update(self, completed: float) -> None:
                rp.update(task_id, completed=completed)

        try:
            yield _T()
        finally:
            if total is not None:
                rp.update(task_id, completed=total)


def terminal_progress() -> RichProgress | LogProgress:
    """Bars when stderr is a terminal; plain log lines (shown with -v) when it is a pipe or file."""
    import sys

    return RichProgress() if sys.stderr.isatty() else LogProgress()
