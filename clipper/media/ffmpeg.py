"""The one place that runs ffmpeg and ffprobe.

Commands are built elsewhere as argv lists (plain data, easy to test) and run here,
with stderr captured so a failure becomes an FFmpegError naming what went wrong.

Every file name reaches ffmpeg absolute (``safe_argv``, ``media_path``): a relative name
such as ``live 20:00.mp4`` or ``a:b.mp4`` would be read as a protocol, ``-x.mp4`` as an
option. Text that goes into a filter graph goes through ``filter_arg``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from ..errors import DISK_ADVICE, FFmpegError, StageError, WorkspaceError

log = logging.getLogger(__name__)


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StageError(f"{name} is not installed (apt-get install ffmpeg)")
    return path


def ffmpeg_command(*args: str) -> list[str]:
    """The argv of an ffmpeg run that writes a file: no banner, no keyboard, overwrite (every
    output is written to a temporary name and renamed, so overwriting is always intended)."""
    return ["ffmpeg", "-hide_banner", "-nostdin", "-y", *args]


_NOT_FILES = ("-", "pipe:", "pipe:0", "pipe:1", "pipe:2")


def media_path(path: str | Path) -> str:
    """A file name ffmpeg cannot misread: absolute, so never an option (``-x``) nor a
    protocol (``a:b``). URLs (``scheme://``) are left as they are."""
    text = os.fspath(path)
    if text in _NOT_FILES or "://" in text:
        return text
    return os.path.abspath(text)


def safe_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` with every input file (``-i X``, except a ``-f lavfi`` source) and the output
    file (the last argument) made absolute by ``media_path``."""
    out = list(argv)
    fmt = None
    for i in range(1, len(out)):
        if out[i - 1] == "-f":
            fmt = out[i]
        elif out[i - 1] == "-i":
            if fmt != "lavfi":
                out[i] = media_path(out[i])
            fmt = None
    if len(out) > 2 and out[-2] != "-i":
        out[-1] = media_path(out[-1])
    return out


def filter_arg(value: str) -> str:
    """``value`` as one option value inside a filter graph (a file name, a text): escaped
    for the option parser (``\\ ' :``), then for the graph parser (``\\ ' [ ] , ;``)."""
    level1 = "".join("\\" + ch if ch in "\\':" else ch for ch in value)
    return "".join("\\" + ch if ch in "\\'[],;" else ch for ch in level1)


def run_ffmpeg(argv: Sequence[str], *, cwd: Path | None = None, what: str = "ffmpeg failed",
               on_progress: Callable[[float], None] | None = None) -> str:
    """Run an ffmpeg argv (argv[0] == "ffmpeg"); return stderr. Raise FFmpegError on failure.

    With ``on_progress``, ffmpeg reports its output time (seconds) as it goes.
    """
    full = [binary(argv[0]), *safe_argv(argv)[1:]]
    if on_progress is not None:
        full[1:1] = ["-progress", "pipe:1", "-nostats"]
    log.debug("run: %s", " ".join(full))
    # stderr goes to a temp file so a chatty ffmpeg can never block on a full pipe.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(full, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        try:
            for raw in proc.stdout:
                if on_progress is not None and raw.startswith(b"out_time_us="):
                    try:
                        seconds = max(0, int(raw.split(b"=", 1)[1])) / 1e6
                    except ValueError:
                        continue  # "N/A" before the first frame
                    on_progress(seconds)
        except BaseException:
            # A progress callback's error (a stop request, a failure beside it) or Ctrl-C: the
            # encode is not left running, writing on after the caller has given up on it.
            proc.kill()
            proc.wait()
            raise
        proc.wait()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    disk = _disk_trouble(stderr)
    if disk:   # even when ffmpeg exits 0 (an MP4 whose index could not be written); not the input's fault
        raise WorkspaceError(f"{what.removesuffix(' failed')}: {disk}", path=full[-1])
    if proc.returncode != 0:
        raise FFmpegError(what, argv=list(full), stderr=stderr)
    return stderr


def _disk_trouble(stderr: str) -> str | None:
    """What to do, when ffmpeg's stderr says the disk it writes to is full or read-only."""
    return next((advice for code, advice in DISK_ADVICE.items() if os.strerror(code) in stderr), None)


def ffprobe_json(path: Path, *extra: str) -> dict[str, Any]:
    """ffprobe's JSON for a file; FFmpegError (with ffprobe's own reason) if it cannot be read."""
    argv = [binary("ffprobe"), "-v", "error", "-print_format", "json", "-show_format",
            "-show_streams", *extra, media_path(path)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
    if proc.returncode != 0:
        raise FFmpegError("ffprobe cannot read it", argv=argv,
                          stderr=proc.stderr.decode("utf-8", "replace"), path=str(path))
    return json.loads(proc.stdout.decode("utf-8", "replace") or "{}")

