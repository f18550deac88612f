"""clipper batch: many streams, transcription and rendering as separate tasks, on a local
process pool and on a real local Ray instance (ray.init with 2 CPUs); a worker killed
mid-task is retried and the stream's result is complete and not duplicated."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import SMALL_RENDER, test_picture_stream

from clipper.batch import plan_batch, run_batch
from clipper.config import load_config

pytestmark = pytest.mark.slow
# Small, cheap clips: these tests are about the engines, not the pictures.
FAST = {"transcribe": {"model": "tiny.en"}, "render": {**SMALL_RENDER, "jobs": 1}}


@pytest.fixture(scope="module")
def two_streams(sample_stream, tmp_path_factory) -> list[Path]:
    """Two different short streams cut from the sample's sound, each one product's selling
    points and little else (11.1-26.3 s and 38.1-56.2 s of the sample), under a 320x180, 10 fps
    test picture: these tests are about the engines, and a small picture is made, decoded and
    rendered in a fraction of the time of the sample's 1280x720 (which is never decoded here)."""
    folder = tmp_path_factory.mktemp("batch sources")
    out = []
    for name, start, seconds in (("morning", 10.0, 17.5), ("evening", 37.5, 19.5)):
        path = folder / f"{name}.mp4"
        out.append(test_picture_stream(sample_stream, path, start, seconds))
    return out


def _complete(folder: Path) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    ids = [c["id"] for c in manifest["clips"]]
    assert ids and len(ids) == len(set(ids))
    files = sorted(p.name for p in (folder / "clips").iterdir())
    assert files == sorted(f"{i}.{ext}" for i in ids for ext in ("mp4", "srt", "jpg")), "no partial or duplicate files"
    return manifest


def test_one_folder_per_source_with_unique_names(tmp_path):
    items = plan_batch(["a/live.mp4", "b/live.mp4", "c/LIVE.ts", "hls folder"], tmp_path)
    assert [i.out_dir.name for i in items] == ["live", "live-2", "LIVE-3", "hls folder"]


def test_local_engine_clips_two_streams_and_reports_a_bad_one(two_streams, tmp_path):
    from click.testing import CliRunner

    from clipper.cli import main

    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video")
    cfg = tmp_path / "fast.toml"
    cfg.write_text('[transcribe]\nmodel = "tiny.en"\n[render]\n' + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in FAST["render"].items() if key != "jobs"))
    res = CliRunner().invoke(main, ["batch", *map(str, two_streams), str(bad), "--out", str(tmp_path / "out"),
                                    "--config", str(cfg), "--workers", "2"])
    assert res.exit_code == 3, res.output          # the bad input's code; the others still finished
    assert "2 of 3 streams clipped" in res.output and "broken" in res.output
    for src in two_streams:
        _complete(tmp_path / "out" / src.stem)
    assert not (tmp_path / "out" / "broken" / "manifest.json").exists()


def test_ray_engine_clips_two_streams_and_survives_a_killed_worker(two_streams, tmp_path):
    """Two streams on a local Ray instance; the first stream's worker is killed (SIGKILL) while
    it transcribes: Ray runs the task again, it resumes from the saved stages, and both
    streams end complete, with nothing duplicated."""
    pytest.importorskip("ray")
    items = plan_batch(two_streams, tmp_path / "out")
    pid_file = items[0].out_dir / ".clipper" / "worker-analyse.pid"
    killed: list[int] = []

    def killer():
        end = time.monotonic() + 180
        while time.monotonic() < end and not killed:
            if pid_file.is_file() and (items[0].out_dir / ".clipper" / "audio.wav").is_file():
                time.sleep(0.5)           # transcription under way
                pid = int(pid_file.read_text())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.1)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    events = []
    results = run_batch(items, load_config(overrides=FAST), engine="ray", workers=2,
                        on_event=lambda item, what: events.append((item.source.name, what)))
    thread.join(timeout=5)
    assert killed, "the worker was killed mid-task"
    assert all(r.ok for r in results), [r.error for r in results]
    assert int(pid_file.read_text()) != killed[0], "a new worker ran the task again"
    for item, r in zip(items, results):
        assert r.clips == len(_complete(item.out_dir)["clips"]) >= 1
        # Progress per stream: analysed, then rendered, once each.
        mine = [what for name, what in events if name == item.source.name]
        assert mine[0] == "analysed" and mine[-1].startswith("rendered") and len(mine) == 2
