"""Shared fixtures. Real parts throughout: ffmpeg, faster-whisper (tiny.en), PySceneDetect."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MEDIA = SHARED / "media"
sys.path.insert(0, str(ROOT / "scripts"))


def shared_media(name: str) -> Path:
    """A recording from ../shared/media, or skip the test when it is not there."""
    path = MEDIA / name
    if not path.is_file():
        pytest.skip(f"../shared/media/{name} not present")
    return path


@pytest.fixture(scope="session")
def sample_stream() -> Path:
    import make_sample

    return make_sample.build()


@pytest.fixture(scope="session")
def sample_truth(sample_stream: Path) -> dict:
    return json.loads(sample_stream.with_name("sample_stream.truth.json").read_text())


@pytest.fixture(scope="session")
def fast_config():
    """tiny.en: the fast packaged model, good enough for the English sample."""
    from clipper import load_config

    # ultrafast: the default frame and layout, a third of veryfast's encode time (what the
    # tests look at is the frame, text and timing, not the bitrate).
    return load_config(overrides={"transcribe": {"model": "tiny.en"}, "render": {"jobs": 2, "preset": "ultrafast"}})


@pytest.fixture(scope="session")
def sample_run(sample_stream, fast_config, tmp_path_factory):
    """One full run of the pipeline on the sample stream, shared by the end-to-end tests.

    Under pytest-xdist (scripts/test.sh) the first worker to get here makes it in a folder
    all workers share; each worker then re-runs on its own copy, which takes every stage
    from the copied work folder (seconds) and gives it a RunResult of its own."""
    from filelock import FileLock

    from clipper import Pipeline

    out = tmp_path_factory.mktemp("sample run")  # a space in the path on purpose
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return Pipeline(fast_config).run(sample_stream, out)
    shared = tmp_path_factory.getbasetemp().parent / "sample run (all workers)"
    with FileLock(f"{shared}.lock"):
        if not (shared / "manifest.json").is_file():
            Pipeline(fast_config).run(sample_stream, shared)
    shutil.copytree(shared, out, symlinks=True, dirs_exist_ok=True)
    return Pipeline(fast_config).run(sample_stream, out)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], check=True, capture_output=True).stdout
    return json.loads(out)


def frame(path: Path, t: float, graph: str | None = None):
    """One decoded RGB frame (numpy array, height x width x 3) of ``path`` at ``t`` seconds.

    ``graph`` is an optional filter graph from [0:v] to [v], applied before the frame is taken.
    """
    import numpy as np

    argv = ["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path)]
    if graph:
        argv += ["-filter_complex", graph, "-map", "[v]"]
    raw = subprocess.run(argv + ["-frames:v", "1", "-f", "image2pipe", "-vcodec", "ppm", "-"], check=True,
                         capture_output=True).stdout
    # PPM: "P6\n<w> <h>\n255\n" then RGB bytes.
    header, rest = raw.split(b"\n", 1)
    dims, rest = rest.split(b"\n", 1)
    _, data = rest.split(b"\n", 1)
    w, h = map(int, dims.split())
    return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3)
