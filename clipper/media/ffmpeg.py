"""The one place that runs ffmpeg and ffprobe.

Commands are built elsewhere as argv lists (plain data, easy to test) and run here,
with stderr captured so a failure becomes an FFmpegError naming what went wrong.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import FFmpegError, StageError

log = logging.getLogger(__name__)


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StageError(f"{name} is not installed (apt-get install ffmpeg)")
    return path


def run_ffmpeg(argv: Sequence[str], *, cwd: Path | None = None, what: str = "ffmpeg failed",
               on_progress: Callable[[float], None] | None = None) -> str:
    """Run an ffmpeg argv (argv[0] == "ffmpeg"); return stderr. Raise FFmpegError on failure.

    With ``on_progress``, ffmpeg reports its output time (seconds) as it goes.
    """
    full = [binary(argv[0]), *argv[1:]]
    if on_progress is not None:
        full[1:1] = ["-progress", "pipe:1", "-nostats"]
    log.debug("run: %s", " ".join(full))
    # stderr goes to a temp file so a chatty ffmpeg can never block on a full pipe.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(full, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        for raw in proc.stdout:
            if on_progress is not None and raw.startswith(b"out_time_us="):
                try:
                    on_progress(max(0, int(raw.split(b"=", 1)[1])) / 1e6)
                except ValueError:
                    pass  # "N/A" before the first frame
        proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise FFmpegError(what, argv=list(full), stderr=stderr)
    return stderr


def ffprobe_json(path: Path, *extra: str) -> dict[str, Any]:
    """ffprobe's JSON for a file; FFmpegError (with ffprobe's own reason) if it cannot be read."""
    argv = [binary("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
            "-show_streams", *extra, str(path)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        raise FFmpegError("ffprobe cannot read it", argv=argv,
                          stderr=proc.stderr.decode("utf-8", "replace"), path=str(path))
    return json.loads(proc.stdout.decode("utf-8", "replace") or "{}")

