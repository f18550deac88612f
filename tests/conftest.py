"""Shared fixtures. Real parts throughout: ffmpeg, faster-whisper (tiny.en), PySceneDetect."""

from __future__ import annotations

import json
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

    return load_config(overrides={"transcribe": {"model": "tiny.en"}, "render": {"jobs": 2}})


@pytest.fixture(scope="session")
def sample_run(sample_stream, fast_config, tmp_path_factory):
    """One full run of the pipeline on the sample stream, shared by the end-to-end tests."""
    from clipper import Pipeline

    out = tmp_path_factory.mktemp("sample run")  # a space in the path on purpose
    return Pipeline(fast_config).run(sample_stream, out)


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], check=True, capture_output=True).stdout
    return json.loads(out)


def frame(path: Path, t: float, vf: str | None = None):
    """One decoded RGB frame (numpy array) of ``path`` at ``t`` seconds."""
    import numpy as np

    info = ffprobe(path)
    v = next(s for s in info["streams"] if s["codec_type"] == "video")
    w, h = int(v["width"]), int(v["height"])
    argv = ["ffmpeg", "-v", "error", "-ss", f"{t:.3f}", "-i", str(path), "-frames:v", "1"]
    if vf:
        argv += ["-vf", vf]
    raw = subprocess.run(argv + ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"], check=True,
                         capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3) if not vf else np.frombuffer(raw, dtype=np.uint8)
