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


def _share_the_cores() -> None:
    """Under pytest-xdist, each worker's OpenMP libraries (CTranslate2, torch) and OpenCV get
    their share of the cores instead of all of them. Two workers on two cores, each running a
    two-thread OpenMP pool, keep descheduling each other's threads at every barrier: the whole
    suite took 652-698 s of CPU (351-377 s) that way, and 543 s (301 s) with one thread a
    worker. Set before any of those libraries is loaded (they read it once); a value given by
    the caller is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        os.environ.setdefault("OMP_NUM_THREADS", share)
        # OpenCV's own pool (PySceneDetect's frame conversions) waits actively too: 301 s -> 282 s.
        os.environ.setdefault("OPENCV_FOR_THREADS_NUM", share)


_share_the_cores()


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


# Small, cheap clips for tests about engines, resuming and the daemon, not about pictures: a
# 180x320 crop at 10 fps with 32k sound (ffmpeg's AAC encoder takes about twice as long at the
# default 128k), no loudness pass.
SMALL_RENDER = {"width": 180, "height": 320, "layout": "crop", "fps": 10, "preset": "ultrafast", "font_size": 14,
                "title_size": 16, "margin_v": 40, "margin_h": 10, "audio_bitrate": "32k", "audio_rate": 16000,
                "loudness": 0.0}


def test_picture_stream(sound: Path, out: Path, start: float = 0.0, seconds: float | None = None) -> Path:
    """``sound``'s audio (from ``start``, ``seconds`` long or to its end) under a 320x180, 10 fps
    test picture with a keyframe every 2 s: it is made, decoded and rendered in a fraction of
    the time of the sample's 1280x720 picture, which these tests do not look at."""
    cut = ["-t", str(seconds)] if seconds is not None else ["-shortest"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10",
                    "-ss", str(start), "-i", str(sound), "-map", "0:v", "-map", "1:a", *cut,
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-pix_fmt", "yuv420p", "-c:a", "copy",
                    str(out)], check=True)
    return out


test_picture_stream.__test__ = False   # a helper, not a test


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


# -- the order tests are handed out in (pytest-xdist, scripts/test.sh) ----------------------------
# Work stealing starts each worker on a contiguous share of the collection and lets an idle one
# take the end of another's queue. Whole modules are reordered here (a module's own order is
# kept, so its module fixtures are made once): first those that read the shared sample run, so
# that the first worker makes it at once while the second starts in the bad-input corpus (which
# needs no sample run) instead of waiting on the lock; the long modules early, the quick unit
# tests last, where they even out the two workers' ends. Every test still runs; alone (no
# xdist) the order is pytest's own.
# test_llm_backends first of all: work stealing takes from the end of a worker's queue, and a
# module split between the workers loads SmolLM2 (15 s) in both.
SAMPLE_RUN_FIRST = ("test_llm_backends", "test_aigc", "test_edge_silence", "test_api_docs", "test_remix",
                    "test_review", "test_end_to_end", "test_export")
LONG = ("test_benchmark", "test_batch", "test_resume", "test_daemon")
QUICK = ("test_config", "test_chinese_subtitles", "test_daemon_units", "test_plan", "test_render_units",
         "test_text_is_text", "test_vocabulary", "test_sentences", "test_journal", "test_import_graph",
         "test_gpu_path", "test_models", "test_segmentation_quality", "test_dropped_speech", "test_bad_input")
SECOND_WORKER = ("test_bad_inputs", "test_sample_zh", "test_shared_media", "test_mandarin_asr",
                 "test_embed_backend", "test_atomic_outputs", "test_render_features")


def pytest_collection_modifyitems(session, config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER") or len(items) < 2:
        return
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py"), []).append(item)

    def take(names) -> list:
        return [item for name in names for item in modules.pop(name, [])]

    first = take(SAMPLE_RUN_FIRST) + take(LONG)
    second = take(SECOND_WORKER)
    quick = take(QUICK) + [item for group in modules.values() for item in group]   # and any new module
    # Quick modules fill the first share up to where the bad-input corpus (the second share's
    # start) straddles the middle; the rest go last.
    head = []
    while quick and len(first) + len(head) + (len(second) // 4) < len(items) // 2:
        name = quick[0].nodeid.split("::")[0]
        while quick and quick[0].nodeid.split("::")[0] == name:
            head.append(quick.pop(0))
    items[:] = first + head + second + quick
