"""The per-run work folder (``OUT/.clipper/``): stage outputs keyed by what they depend on.

Each stage writes ``<stage>.json`` holding its value and a key: a hash of the source's
content fingerprint and of the config tables the stage reads. A rerun whose key matches
reuses the value instead of recomputing it (the transcript above all), and any stage's
output can be edited or produced elsewhere and dropped in to resume from there. A stage
file that cannot be read (damaged, of the wrong shape, a folder in its place) is set aside
as ``<name>.corrupt`` with a warning and recomputed: a cache is never fatal.

One run at a time holds a folder (``FolderLock``: ``.clipper/run.lock``); each holder, once it has
the lock, removes what atomic writes of a killed holder left half-written (``remove_partial_writes``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, TypeVar

from .errors import DISK_ADVICE, WorkspaceError
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
    """Write to a temp file beside ``path``, fsync, then rename over it. WorkspaceError (the
    file named) when it cannot be written: a read-only or full disk, a folder in its place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WorkspaceError(f"cannot write: {_why(exc)}", path=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; outputs follow the umask like the clips
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WorkspaceError(f"cannot write: {_why(exc)}", path=str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _why(exc: OSError) -> str:
    """An OSError in words, with what to do when it is the disk's fault."""
    return DISK_ADVICE.get(exc.errno or 0) or exc.strerror or str(exc)


@contextlib.contextmanager
def disk_errors(out: Path) -> Iterator[None]:
    """A write anywhere in a run that fails because the output disk is full, over quota or
    read-only: WorkspaceError saying what to do (ffmpeg's own are mapped in ``run_ffmpeg``)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_ADVICE:
            raise
        raise WorkspaceError(DISK_ADVICE[exc.errno], path=str(exc.filename or out)) from None


def set_aside(path: Path, why: str) -> None:
    """Move a damaged cache file (or whatever is in its place) to ``<name>.corrupt`` and say so."""
    aside = path.with_name(path.name + ".corrupt")
    log.warning("%s: %s; set aside as %s and recomputed", path, why, aside.name)
    try:
        if aside.is_dir() and not aside.is_symlink():
            import shutil

            shutil.rmtree(aside)
        os.replace(path, aside)
    except OSError as exc:
        raise WorkspaceError(f"{why}, and it cannot be moved aside ({exc.strerror}): remove it",
                             path=str(path)) from None


def make_folder(path: Path, what: str = "folder") -> Path:
    """``path`` as a folder (made if missing); WorkspaceError naming it when something else is there."""
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"is a file, but clipper needs a {what} here: move or rename it", path=str(path))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"cannot create the {what}: {_why(exc)}", path=str(path)) from None
    return path


# The temp file write_bytes_atomic leaves when its process is killed (SIGKILL, power loss)
# between mkstemp and the rename: ".<name>.<8 random characters>.tmp".
_PARTIAL_WRITE = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}\.tmp$")
# Files of a run folder that another lock guards: the review page saves review.json under
# .clipper/review.lock while a run may hold run.lock (review/state.py).
OTHER_LOCKS = frozenset({"review.json"})


def remove_partial_writes(folder: Path) -> list[Path]:
    """Delete what atomic writes of a dead holder of ``folder``'s lock left half-written in it,
    its work folder and its clips (only the lock's holder writes there, so any such file is a
    leftover); the paths removed."""
    removed = []
    for where in (folder, folder / ".clipper", folder / "clips"):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for name in names:
            path, match = where / name, _PARTIAL_WRITE.match(name)
            if match and match["target"] not in OTHER_LOCKS and path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    if removed:
        log.info("removed %d half-written file(s) a stopped run left: %s", len(removed),
                 ", ".join(p.name for p in removed))
    return removed


class FolderLock:
    """An exclusive ``flock`` on ``<folder>/.clipper/<name>``, held until ``release``; the
    kernel drops it if the holder dies. A second holder is refused with WorkspaceError naming
    the folder and the pid that has it (``what`` says who that is)."""

    def __init__(self, folder: Path, name: str = "run.lock", what: str = "clipper run") -> None:
        self.path = make_folder(folder / ".clipper", "work folder") / name
        try:
            self.fh = open(self.path, "a+")
        except OSError as exc:
            raise WorkspaceError(f"cannot open the lock file: {_why(exc)}", path=str(self.path)) from None
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            other = self.fh.read().strip() or "?"
            self.fh.close()
            raise WorkspaceError(f"another {what} (pid {other}) is using this folder; "
                                 "wait for it to finish", path=str(folder)) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        remove_partial_writes(folder)

    def release(self) -> None:
        if not self.fh.closed:
            fcntl.flock(self.fh, fcntl.LOCK_UN)
            self.fh.close()

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Workspace:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / ".clipper"
        if out_dir.exists() and not out_dir.is_dir():
            raise WorkspaceError("output path exists and is not a folder", path=str(out_dir))
        make_folder(self.dir, "work folder")

    def path(self, name: str) -> Path:
        return self.dir / name

    def usable(self, name: str) -> Path:
        """The path of a work file, with whatever is in its way (a folder, a link, a device)
        set aside, so it can be read or written."""
        path = self.path(name)
        if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_file()):
            set_aside(path, "not a regular file")
        return path

    def read_json(self, name: str, check: Callable[[Any], Any] | None = None) -> Any:
        """A work file's JSON (passed through ``check``, which raises on a wrong shape), or
        None when it is absent or unreadable (then it is set aside)."""
        path = self.usable(name)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return check(data) if check else data
        except Exception as exc:  # noqa: BLE001 - any damage (bytes, JSON, shape) means "recompute"
            set_aside(path, f"unreadable cached output ({type(exc).__name__}: {exc})")
            return None

    def load(self, stage: str, key: str, cls: type[T]) -> T | None:
        def check(data: Any) -> dict[str, Any]:
            if not isinstance(data, dict) or "key" not in data or "value" not in data:
                raise ValueError("not a saved stage")
            return data

        data = self.read_json(f"{stage}.json", check)
        if data is None:
            return None
        if data["key"] != key:
            log.info("%s: inputs changed, recomputing", stage)
            return None
        try:
            return cls.from_dict(data["value"])
        except Exception as exc:  # noqa: BLE001
            set_aside(self.path(f"{stage}.json"), f"unreadable cached output ({type(exc).__name__}: {exc})")
            return None

    def write_json(self, name: str, data: Any) -> Path:
        return write_json_atomic(self.usable(name), data)

    def read(self, stage: str, cls: type[T]) -> T:
        """A stage's saved value whatever its key (a finished run read back); an error if absent."""
        path = self.path(f"{stage}.json")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8"))["value"])
        except FileNotFoundError:
            raise WorkspaceError(f"the run's {stage} stage was not saved: run `clipper run` again",
                                 path=str(path)) from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise WorkspaceError(f"unreadable saved {stage} ({exc}): run `clipper run` again to recompute it",
                                 path=str(path)) from None

    def save(self, stage: str, key: str, value: JsonValue) -> Path:
        return self.write_json(f"{stage}.json", {"stage": stage, "key": key, "value": value.to_dict()})
