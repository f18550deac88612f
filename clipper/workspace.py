"""The per-run work folder (``OUT/.clipper/``): stage outputs keyed by what they depend on.

Each stage writes ``<stage>.json`` holding its value and a key: a hash of the source's
content fingerprint and of the config tables the stage reads. A rerun whose key matches
reuses the value instead of recomputing it (the transcript above all), and any stage's
output can be edited or produced elsewhere and dropped in to resume from there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from .errors import WorkspaceError
from .types import JsonValue

log = logging.getLogger(__name__)
T = TypeVar("T", bound=JsonValue)

_SAMPLE = 1 << 20


def fingerprint(path: Path) -> str:
    """A content fingerprint that costs three 1 MiB reads, not a pass over a 10 GB file."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as fh:
        for offset in sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)}):
            fh.seek(offset)
            h.update(fh.read(_SAMPLE))
    return h.hexdigest()[:20]


def key_of(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def write_json_atomic(path: Path, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def write_text_atomic(path: Path, text: str) -> Path:
    """Write to a temp file beside ``path``, fsync, then rename over it."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; outputs follow the umask like the clips
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


class Workspace:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / ".clipper"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create work folder: {exc.strerror}", path=str(self.dir)) from None

    def path(self, name: str) -> Path:
        return self.dir / name

    def load(self, stage: str, key: str, cls: type[T]) -> T | None:
        path = self.path(f"{stage}.json")
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("key") != key:
                log.info("%s: inputs changed, recomputing", stage)
                return None
            return cls.from_dict(data["value"])
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: unreadable cached output (%s), recomputing", path, exc)
            return None

    def read(self, stage: str, cls: type[T]) -> T:
        """A stage's saved value whatever its key (a finished run read back); an error if absent."""
        path = self.path(f"{stage}.json")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8"))["value"])
        except FileNotFoundError:
            raise WorkspaceError(f"the run's {stage} stage was not saved: run `clipper run` again",
                                 path=str(path)) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WorkspaceError(f"unreadable saved {stage} ({exc}): run `clipper run` again to recompute it",
                                 path=str(path)) from None

    def save(self, stage: str, key: str, value: JsonValue) -> Path:
        return write_json_atomic(self.path(f"{stage}.json"),
                                 {"stage": stage, "key": key, "value": value.to_dict()})
