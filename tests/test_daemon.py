"""The watch-folder daemon, as a real process on temporary folders."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FAST = """
[transcribe]
model = "tiny.en"
[render]
width = 540
height = 960
font_size = 34
margin_v = 150
preset = "ultrafast"
[watch]
stable_seconds = 2.0
rescan_seconds = 0.5
max_attempts = {attempts}
live_interval = 2.0
live_settle = 3.0
"""


@pytest.fixture
def boxes(tmp_path):
    inbox, outbox = tmp_path / "in box", tmp_path / "out"
    inbox.mkdir()
    cfg = tmp_path / "fast.toml"
    cfg.write_text(FAST.format(attempts=2))
    return inbox, outbox, cfg


def start(inbox: Path, outbox: Path, cfg: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clipper.cli", "watch", str(inbox), "--out", str(outbox),
                             "--config", str(cfg), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout: float, proc: subprocess.Popen | None = None, step: float = 0.25):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"daemon exited {proc.returncode}: {proc.stderr.read()}")
        time.sleep(step)
    raise AssertionError("timed out")


def manifest_of(folder: Path) -> dict | None:
    path = folder / "manifest.json"
    return json.loads(path.read_text()) if path.is_file() else None


def assert_clean_output(folder: Path) -> dict:
    manifest = manifest_of(folder)
    assert manifest is not None
    ids = [c["id"] for c in manifest["clips"]]
    assert ids and len(ids) == len(set(ids)), ids
    files = sorted(p.name for p in (folder / "clips").iterdir())
    expected = sorted([f"{i}.{ext}" for i in ids for ext in ("mp4", "srt", "jpg")])
    assert files == expected, "exactly the manifest's clips, no partial or stray files"
    return manifest


def jobs(outbox: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "clipper.cli", "status", str(outbox)], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().splitlines()


def test_a_file_copied_in_slowly_is_clipped_once_complete(boxes, sample_stream):
    inbox, outbox, cfg = boxes
    proc = start(inbox, outbox, cfg)
    try:
        data = sample_stream.read_bytes()
        target = inbox / "直播 2026-11-20.mp4"
        with target.open("wb") as fh:  # a slow copy: 8 pieces over ~4 s
            for i in range(8):
                fh.write(data[i * len(data) // 8:(i + 1) * len(data) // 8])
                fh.flush()
                time.sleep(0.5)
        folder = outbox / "直播 2026-11-20"
        wait_for(lambda: manifest_of(folder), 240, proc)
        assert_clean_output(folder)
        assert not (outbox / "直播 2026-11-20.error.json").exists(), "it never started on a partial file"
        assert "1 done" in jobs(outbox)[-1]
        # A second daemon on the same outbox refuses, with a clear message.
        second = subprocess.run([sys.executable, "-m", "clipper.cli", "watch", str(inbox), "--out", str(outbox),
                                 "--config", str(cfg)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 6 and "another clipper watch" in second.stderr
    finally:
        stop(proc)
    assert proc.returncode == 0
    log = (outbox / ".clipper" / "daemon.log").read_text()
    assert "done" in log and "watcher stopped" in log


def test_corrupt_input_gets_error_json_and_is_retried_a_bounded_number_of_times(boxes):
    inbox, outbox, cfg = boxes
    cfg.write_text(FAST.format(attempts=1))
    (inbox / "broken.mp4").write_text("not a video")
    proc = start(inbox, outbox, cfg)
    try:
        error = wait_for(lambda: (outbox / "broken.error.json").is_file() and
                         json.loads((outbox / "broken.error.json").read_text()), 60, proc)
        assert "not a readable audio/video file" in error["error"] and error["state"] == "failed"
        wait_for(lambda: "1 failed" in jobs(outbox)[-1], 30)
        assert not (outbox / "broken" / "clips").exists()
    finally:
        stop(proc)


def test_kill_9_at_random_points_then_restart_finishes_the_job_exactly_once(boxes, sample_stream):
    inbox, outbox, cfg = boxes
    (inbox / "stream.mp4").write_bytes(sample_stream.read_bytes())
    rng = random.Random(20261122)
    for _ in range(5):
        proc = start(inbox, outbox, cfg)
        time.sleep(rng.uniform(3.0, 14.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    proc = start(inbox, outbox, cfg)
    try:
        wait_for(lambda: "1 done" in jobs(outbox)[-1], 300, proc, step=1.0)
    finally:
        stop(proc)
    manifest = assert_clean_output(outbox / "stream")
    assert len(jobs(outbox)) == 2  # one job row and the totals line
    assert not [p for p in (outbox / "stream" / ".clipper").iterdir() if p.suffix in (".part", ".tmp")]
    assert len(manifest["clips"]) >= 3


def test_segment_folder_is_one_source_and_the_python_api_starts_a_watcher(tmp_path, sample_stream):
    from clipper import load_config
    from clipper.daemon import start_watcher

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    (inbox / "hls-recording").mkdir(parents=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(sample_stream), "-c", "copy", "-f", "segment",
                    "-segment_time", "20", "-segment_format", "mpegts",
                    str(inbox / "hls-recording" / "seg%d.ts")], check=True)
    assert len(list((inbox / "hls-recording").glob("*.ts"))) >= 4
    cfg_file = tmp_path / "fast.toml"
    cfg_file.write_text(FAST.format(attempts=1))
    watcher = start_watcher(inbox, outbox, load_config(cfg_file))
    try:
        wait_for(lambda: manifest_of(outbox / "hls-recording"), 240)
    finally:
        watcher.stop()
        watcher.thread.join(timeout=60)
    manifest = assert_clean_output(outbox / "hls-recording")
    assert manifest["source"]["duration"] > 80


def test_growing_recording_gets_its_first_clip_while_still_being_written(boxes, sample_stream):
    inbox, outbox, cfg = boxes
    # The muxer writes this low-bitrate stream in bursts a few seconds apart: "complete" must
    # mean still for longer than that, as it must for a real recorder (the default is 10 s).
    cfg.write_text(FAST.format(attempts=2).replace("stable_seconds = 2.0", "stable_seconds = 8.0"))
    target = inbox / "live.ts"
    started = time.monotonic()
    # A recorder writing in real time, flushing as it goes (as OBS and ffmpeg recorders do).
    writer = subprocess.Popen(["ffmpeg", "-v", "error", "-re", "-i", str(sample_stream), "-c", "copy",
                               "-flush_packets", "1", "-f", "mpegts", str(target)])
    proc = start(inbox, outbox, cfg, "--live")
    try:
        manifest = wait_for(lambda: (m := manifest_of(outbox / "live")) and m["clips"] and m, 120, proc)
        seen_at = time.monotonic() - started
        assert writer.poll() is None, "the first clip came before the recording ended"
        first = manifest["clips"][0]
        assert manifest["live"]["complete"] is False
        delay = seen_at - first["end"]
        print(f"\nfirst clip {first['id']} ends at {first['end']:.1f}s of the recording, "
              f"in the manifest {seen_at:.1f}s after recording started: delay {delay:.1f}s")
        writer.wait(timeout=120)
        final = wait_for(lambda: (m := manifest_of(outbox / "live")) and m["live"]["complete"] and m, 180, proc)
    finally:
        stop(proc)
        if writer.poll() is None:
            writer.kill()
    assert final["clips"][0] == first, "published clips are never changed"
    assert_clean_output(outbox / "live")
    assert len(final["clips"]) >= 3


def test_segment_folder_is_joined_append_only_and_survives_a_torn_append(tmp_path):
    from clipper import load_config
    from clipper.watch import Watcher

    rec, out = tmp_path / "rec", tmp_path / "out"
    rec.mkdir()
    for i in range(3):
        (rec / f"seg{i}.ts").write_bytes(bytes([i]) * 1000)
    w = Watcher(tmp_path, tmp_path / "box", load_config())
    joined = w._single_file(rec, out, complete=False)   # the newest segment may still be written
    assert joined.stat().st_size == 2000
    (rec / "seg10.ts").write_bytes(b"x" * 500)           # natural order: seg10 after seg2
    assert w._single_file(rec, out, complete=False).stat().st_size == 3000
    with joined.open("ab") as fh:                         # a crash between the bytes and the listing
        fh.write(b"y" * 777)
    w._single_file(rec, out, complete=True)
    data = joined.read_bytes()
    assert len(data) == 3500 and data[2000:3000] == bytes([2]) * 1000 and data[3000:] == b"x" * 500
