"""The one exception tree of clipper.

Library code raises these; only the command line turns them into exit codes.
Every error carries the context a user needs to act on it (the file, the stage,
the command that failed) and prints as one line.

    ClipperError                      exit 1
    ├── ConfigError                   exit 2   bad or unknown config key, bad option value
    │   └── ReviewError                        a review decision that cannot apply (bad clip id, word index)
    │       └── ReviewConflict                 the clip changed since the reviewer loaded it
    ├── InputError                    exit 3   the source cannot be clipped
    │   ├── MediaNotFoundError                 path does not exist
    │   ├── NotMediaError                      ffprobe cannot read it (corrupt, text file...)
    │   ├── NoAudioError                       no audio stream to transcribe
    │   ├── NoSpeechError                      audio holds no speech (silence, music)
    │   └── IncompleteMediaError               the file is still being written
    ├── ModelError                    exit 4   a model cannot be found, assembled or loaded
    ├── StageError                    exit 5   a stage failed on valid input
    │   ├── FFmpegError                        ffmpeg/ffprobe exited non-zero
    │   ├── TranscriptionError
    │   ├── SegmentationError
    │   └── RenderError                        a rendered clip failed verification
    ├── WorkspaceError                exit 6   the output folder cannot be used (or another daemon has it)
    └── Interrupted                   exit 130 asked to stop (SIGTERM, Ctrl-C) between two steps
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any


class ClipperError(Exception):
    """Base of every error clipper raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        # One line: the message, then the context that identifies the object.
        where = ""
        if "path" in self.context:
            where = f"{self.context['path']}: "
        return (where + self.message).replace("\n", " ")


class ConfigError(ClipperError):
    exit_code = 2


class ReviewError(ConfigError):
    pass


class ReviewConflict(ReviewError):
    """Someone saved the clip after this reviewer loaded it; ``current`` is what is saved now."""

    def __init__(self, message: str, current: dict[str, Any] | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.current = current or {}


class InputError(ClipperError):
    exit_code = 3


class MediaNotFoundError(InputError):
    def __init__(self, path: Path | str) -> None:
        super().__init__("no such file", path=str(path))


class NotMediaError(InputError):
    pass


class NoAudioError(InputError):
    pass


class NoSpeechError(InputError):
    pass


class IncompleteMediaError(InputError):
    pass


class ModelError(ClipperError):
    exit_code = 4


class StageError(ClipperError):
    exit_code = 5


class FFmpegError(StageError):
    def __init__(self, message: str, argv: list[str] | None = None, stderr: str = "", **context: Any):
        tail = _last_meaningful_line(stderr)
        super().__init__(f"{message}: {tail}" if tail else message, **context)
        self.argv = argv or []
        self.stderr = stderr


class TranscriptionError(StageError):
    pass


class SegmentationError(StageError):
    pass


class RenderError(StageError):
    pass


class WorkspaceError(ClipperError):
    exit_code = 6


# The output disk cannot take what clipper writes (said by Python's errno or in ffmpeg's
# stderr as its strerror): what to do about it. Finished stages and clips are kept.
DISK_ADVICE = {
    errno.ENOSPC: "no space left on the output disk: free some space (or use another --out) and run again; "
                  "finished work is kept",
    errno.EDQUOT: "disk quota exceeded on the output disk: free some space and run again; finished work is kept",
    errno.EROFS: "read-only file system: use another --out",
}


class Interrupted(ClipperError):
    exit_code = 130


def _last_meaningful_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""
