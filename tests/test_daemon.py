"""The watch-folder daemon, as a real process on temporary folders.

Real parts throughout: ffmpeg, tiny.en, daemon processes, signals. These tests are about the
daemon, not the clips, so they clip the sample's sound under a small test picture, rendered
small, and only 17.5 s of it (one product's selling points) where the whole stream would prove
nothing more; the growing recording is its three products, written faster than real time at
first.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SMALL_RENDER, test_picture_stream

pytestmark = pytest.mark.slow

FAST = """
[transcribe]
model = "tiny.en"
[render]
""" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in SMALL_RENDER.items()) + """[watch]
stable_seconds = 2.0
rescan_seconds = 0.5
max_attempts = {attempts}
live_interval = 0.5
live_settle = 3.0
"""
SHORT_FROM, SHORT = 10.0, 17.5   # `short_stream`: 10-27.5 s of the sample, its first product's selling points
LIVE_FROM, LIVE = 10.0, 72.0     # the growing recording: 10-82 s, the three products (11.1-80.9 s)


@pytest.fixture(scope="module")
def small_stream(sample_stream, tmp_path_factory) -> Path:
    """The sample's sound under a 320x180, 10 fps test picture (a keyframe every 2 s). These tests
    are about the daemon: this picture decodes and renders in a fraction of the sample's time."""
    return test_picture_stream(sample_stream, tmp_path_factory.mktemp("small") / "small_stream.mp4")


def cut(stream: Path, start: float, seconds: float, name: str) -> Path:
    """``seconds`` of ``stream`` from ``start`` (a keyframe), copied."""
    out = stream.with_name(name)
    subprocess.run(["ffmpeg", "-v", "error", "-ss", str(start), "-i", str(stream), "-t", str(seconds), "-c", "copy",
                    str(out)], check=True)
    return out


def shifted(truth: dict, start: float) -> dict:
    """The truth of a cut of the sample that starts at ``start``: its lines from there, timed from the cut."""
    return {**truth, "lines": [{**line, "start": line["start"] - start, "end": line["end"] - start}
                               for line in truth["lines"] if line["start"] >= start]}


@pytest.fixture(scope="module")
def short_stream(small_stream) -> Path:
    """10-27.5 s of it: one product's selling points (11.1-26.3 s of the sample) and nothing else.
    One clip; a run takes seconds."""
    return cut(small_stream, SHORT_FROM, SHORT, "short_stream.mp4")


@pytest.fixture(scope="module")
def short_truth(sample_truth) -> dict:
    return shifted(sample_truth, SHORT_FROM)


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


def selling_passages(truth: dict, until: float) -> list[tuple[float, float]]:
    """(start, end) of each selling-point passage the first ``until`` seconds hold whole."""
    spans: dict[int, list[float]] = {}
    for line in truth["lines"]:
        if line["label"] == "SELLING_POINT":
            span = spans.setdefault(line["passage"], [line["start"], line["end"]])
            span[1] = line["end"]
    return [(a, b) for a, b in spans.values() if b <= until]


def assert_every_selling_passage_clipped(manifest: dict, truth: dict, until: float) -> None:
    passages = selling_passages(truth, until)
    assert passages
    for a, b in passages:
        assert any(c["start"] < b and c["end"] > a for c in manifest["clips"]), (a, b, manifest["clips"])


def daemon_log(outbox: Path) -> str:
    path = outbox / ".clipper" / "daemon.log"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def jobs(outbox: Path) -> list[str]:
    """`clipper status OUTBOX`, in this process: a subprocess would prove nothing more."""
    from clipper.cli import main

    result = CliRunner().invoke(main, ["status", str(outbox)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()


def test_a_file_copied_in_slowly_is_clipped_once_complete(boxes, short_stream, short_truth):
    inbox, outbox, cfg = boxes
    proc = start(inbox, outbox, cfg)
    second = None
    try:
        data = short_stream.read_bytes()
        target = inbox / "直播 2026-11-20.mp4"
        # The daemon watches before the copy starts, so it sees the file grow.
        wait_for(lambda: "watching" in daemon_log(outbox), 60, proc, step=0.05)
        with target.open("wb") as fh:  # a slow copy: 8 pieces over ~1.2 s, pauses far shorter than stable_seconds
            for i in range(8):
                fh.write(data[i * len(data) // 8:(i + 1) * len(data) // 8])
                fh.flush()
                time.sleep(0.15)
        # A second daemon on the same outbox refuses, with a clear message (asked while the first works).
        second = subprocess.Popen([sys.executable, "-m", "clipper.cli", "watch", str(inbox), "--out", str(outbox),
                                   "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        folder = outbox / "直播 2026-11-20"
        manifest = wait_for(lambda: manifest_of(folder), 240, proc)
        assert_clean_output(folder)
        assert_every_selling_passage_clipped(manifest, short_truth, SHORT)
        assert manifest["source"]["duration"] == pytest.approx(SHORT, abs=0.5), "the whole file, not a part"
        assert not (outbox / "直播 2026-11-20.error.json").exists(), "it never started on a partial file"
        # The job is marked done just after the manifest (and timeline) are written.
        wait_for(lambda: "1 done" in jobs(outbox)[-1], 30, proc)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 6 and "another clipper watch" in err
    finally:
        stop(proc)
        if second is not None and second.poll() is None:
            second.kill()
            second.communicate()
    assert proc.returncode == 0
    log = daemon_log(outbox)
    assert "done" in log and "watcher stopped" in log


def test_corrupt_input_gets_error_json_and_is_retried_a_bounded_number_of_times(boxes):
    inbox, outbox, cfg = boxes
    cfg.write_text(FAST.format(attempts=1).replace("stable_seconds = 2.0", "stable_seconds = 0.5"))
    (inbox / "broken.mp4").write_text("not a video")  # complete before the daemon starts
    proc = start(inbox, outbox, cfg)
    try:
        error = wait_for(lambda: (outbox / "broken.error.json").is_file() and
                         json.loads((outbox / "broken.error.json").read_text()), 60, proc)
        assert "not a readable audio/video file" in error["error"] and error["state"] == "failed"
        wait_for(lambda: "1 failed" in jobs(outbox)[-1], 30)
        assert not (outbox / "broken" / "clips").exists()
    finally:
        stop(proc)


# The stages of a job in a daemon's life, in order, and the log line (progress) that starts each.
STAGES = ("start-up", "loading", "extracting audio", "transcribing", "planning", "rendering", "done")
MARKS = {"loading": "job 1: ", "extracting audio": "extracting audio…", "transcribing": "transcribing (",
         "planning": "pass over ", "rendering": "rendering c", "done": "job 1: done"}


def stage_of(outbox: Path, pid: int) -> str:
    """The furthest stage daemon ``pid`` reached, from its own lines in daemon.log."""
    reached = 0
    for line in daemon_log(outbox).splitlines():
        fields = line.split(" ", 5)  # date time pid level logger: message
        if len(fields) == 6 and fields[2] == str(pid):
            reached = max([reached] + [STAGES.index(s) for s, mark in MARKS.items() if mark in fields[5]])
    return STAGES[reached]


def test_kill_9_at_random_points_then_restart_finishes_the_job_exactly_once(boxes, short_stream, short_truth):
    inbox, outbox, cfg = boxes
    cfg.write_text(FAST.format(attempts=2).replace("stable_seconds = 2.0", "stable_seconds = 0.5"))
    (inbox / "stream.mp4").write_bytes(short_stream.read_bytes())  # complete before the first start
    rng = random.Random(20261122)
    # Each daemon is killed a random moment (seconds from..to) after it reaches a stage: its
    # start-up (within 0.15 s of the spawn: the interpreter and imports alone take longer), the job's first seconds, mid-transcription, then twice while rendering (what
    # comes before is cached by then, so those daemons go straight to it).
    plan = [("start-up", 0.0, 0.15), ("loading", 0.0, 2.0), ("transcribing", 0.0, 0.5), ("rendering", 0.0, 0.5),
            ("rendering", 0.3, 2.0)]
    killed_in = []
    for stage, lo, hi in plan:
        proc = start(inbox, outbox, cfg)
        pid, goal = proc.pid, STAGES.index(stage)
        wait_for(lambda pid=pid, goal=goal: STAGES.index(stage_of(outbox, pid)) >= goal, 120, proc, step=0.05)
        time.sleep(rng.uniform(lo, hi))
        os.kill(pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        killed_in.append(stage_of(outbox, pid))
    print("\nkilled while:", ", ".join(killed_in))
    assert {"start-up", "transcribing", "rendering"} <= set(killed_in), killed_in
    proc = start(inbox, outbox, cfg)
    try:
        wait_for(lambda: "1 done" in jobs(outbox)[-1], 300, proc, step=0.1)
    finally:
        stop(proc)
    manifest = assert_clean_output(outbox / "stream")
    assert len(jobs(outbox)) == 2  # one job row and the totals line
    assert not [p for p in (outbox / "stream" / ".clipper").iterdir() if p.suffix in (".part", ".tmp")]
    assert_every_selling_passage_clipped(manifest, short_truth, SHORT)


def test_segment_folder_is_one_source_and_the_python_api_starts_a_watcher(tmp_path, short_stream, short_truth):
    from clipper import load_config
    from clipper.daemon import start_watcher

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    (inbox / "hls-recording").mkdir(parents=True)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(short_stream), "-c", "copy", "-f", "segment",
                    "-segment_time", "4", "-segment_format", "mpegts",
                    str(inbox / "hls-recording" / "seg%d.ts")], check=True)
    assert len(list((inbox / "hls-recording").glob("*.ts"))) >= 4
    cfg_file = tmp_path / "fast.toml"   # the folder is complete before the watcher starts
    cfg_file.write_text(FAST.format(attempts=1).replace("stable_seconds = 2.0", "stable_seconds = 0.5"))
    watcher = start_watcher(inbox, outbox, load_config(cfg_file))
    try:
        wait_for(lambda: manifest_of(outbox / "hls-recording"), 240)
    finally:
        watcher.stop()
        watcher.thread.join(timeout=60)
    manifest = assert_clean_output(outbox / "hls-recording")
    assert manifest["source"]["duration"] == pytest.approx(SHORT, abs=0.5), "every segment, in order"
    assert_every_selling_passage_clipped(manifest, short_truth, SHORT)


class Recorder(threading.Thread):
    """A recorder writing an MPEG-TS recording of ``source`` into ``target``, flushing every
    ``tick`` seconds: ``rate`` times real time up to ``fast_until`` seconds of the stream (so a
    test need not wait for it), real time after that. ``finish`` set: the rest at once."""

    def __init__(self, source: Path, target: Path, work: Path, rate: float, fast_until: float,
                 tick: float = 0.2) -> None:
        super().__init__(daemon=True)
        ts = work / "recording.ts"
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(source), "-c", "copy", "-f", "mpegts", str(ts)],
                       check=True)
        self.data = ts.read_bytes()
        rows = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "packet=pts_time,pos", "-of", "csv=p=0",
                               str(ts)], capture_output=True, text=True, check=True).stdout.split()
        fields = [r.split(",") for r in rows]
        packets = sorted((int(f[1]), float(f[0])) for f in fields
                         if len(f) > 1 and f[0] not in ("", "N/A") and f[1].isdigit())
        first, latest = min(t for _, t in packets), 0.0
        self.cuts = []   # (byte offset, stream seconds all bytes before it reach)
        for pos, t in packets:
            self.cuts.append((pos, latest))
            latest = max(latest, t - first)
        self.target, self.rate, self.fast_until, self.tick = target, rate, fast_until, tick
        self.finish = threading.Event()
        self.written = 0          # bytes
        self.written_until = 0.0  # seconds of the stream

    def _cut(self, seconds: float) -> tuple[int, float]:
        for pos, t in self.cuts:
            if t > seconds:
                return pos, t
        return len(self.data), self.cuts[-1][1]

    def run(self) -> None:
        started = time.monotonic()
        with self.target.open("wb") as fh:
            while self.written < len(self.data):
                wall = time.monotonic() - started
                fast = self.fast_until / self.rate
                media = wall * self.rate if wall < fast else self.fast_until + (wall - fast)
                end, until = (len(self.data), self.cuts[-1][1]) if self.finish.is_set() else self._cut(media)
                if end > self.written:
                    fh.write(self.data[self.written:end])
                    fh.flush()
                    self.written, self.written_until = end, until
                if self.written < len(self.data):
                    self.finish.wait(self.tick)


def test_growing_recording_gets_its_first_clip_while_still_being_written(boxes, small_stream, sample_truth,
                                                                         tmp_path):
    inbox, outbox, cfg = boxes
    # The sample's three products (10-82 s of it), 40x real time up to 30 s (its first clip needs
    # about 25 s), then real time: the daemon has some 40 s to publish that clip while the
    # recording goes on. The recorder writes every 0.2 s; "complete" means still for
    # stable_seconds (2 s here).
    live = cut(small_stream, LIVE_FROM, LIVE, "live_stream.mp4")
    recorder = Recorder(live, inbox / "live.ts", tmp_path, rate=40.0, fast_until=30.0)
    recorder.start()
    proc = start(inbox, outbox, cfg, "--live")
    try:
        manifest = wait_for(lambda: (m := manifest_of(outbox / "live")) and m["clips"] and m, 120, proc)
        recorded = recorder.written_until
        assert recorder.is_alive() and recorder.written < len(recorder.data), \
            "the first clip came before the recording ended"
        first = manifest["clips"][0]
        assert manifest["live"]["complete"] is False
        assert first["end"] < recorded
        print(f"\nfirst clip {first['id']} ends at {first['end']:.1f}s of the recording; in the manifest when "
              f"{recorded:.1f}s were recorded: {recorded - first['end']:.1f}s of recording later")
        recorder.finish.set()   # the stream ends: the rest of the recording at once
        recorder.join(timeout=60)
        final = wait_for(lambda: (m := manifest_of(outbox / "live")) and m["live"]["complete"] and m, 180, proc)
    finally:
        stop(proc)
        recorder.finish.set()
    assert final["clips"][0] == first, "published clips are never changed"
    assert_clean_output(outbox / "live")
    assert len(final["clips"]) >= 3
    assert_every_selling_passage_clipped(final, shifted(sample_truth, LIVE_FROM), final["source"]["duration"])


def test_segment_folder_is_joined_append_only_and_survives_a_torn_append(tmp_path):
    from clipper.daemon.segments import join_segments

    rec, out = tmp_path / "rec", tmp_path / "out"
    rec.mkdir()
    for i in range(3):
        (rec / f"seg{i}.ts").write_bytes(bytes([i]) * 1000)
    joined = join_segments(rec, out, complete=False)   # the newest segment may still be written
    assert joined.stat().st_size == 2000
    (rec / "seg10.ts").write_bytes(b"x" * 500)           # natural order: seg10 after seg2
    assert join_segments(rec, out, complete=False).stat().st_size == 3000
    with joined.open("ab") as fh:                         # a crash between the bytes and the listing
        fh.write(b"y" * 777)
    join_segments(rec, out, complete=True)
    data = joined.read_bytes()
    assert len(data) == 3500 and data[2000:3000] == bytes([2]) * 1000 and data[3000:] == b"x" * 500


def test_fifty_files_at_once_with_renames_and_deletes_while_queued(tmp_path, short_stream):
    """Under load: 50 files land at once (two good recordings, 48 that are not media), one
    queued file is deleted and one renamed before their turn. The daemon keeps going: every
    good recording is clipped, every failure has its error.json and its line in `clipper
    status`, the renamed file is taken under its new name, and no finished clip is lost."""
    from clipper import load_config
    from clipper.daemon import start_watcher

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    cfg_file = tmp_path / "fast.toml"
    cfg_file.write_text(FAST.format(attempts=1).replace("stable_seconds = 2.0", "stable_seconds = 0.3"))
    # Names sort the good recordings first: the bad ones wait in the queue while they are clipped.
    for name in ("a-good-1.mp4", "a-good-2.mp4"):
        shutil.copy(short_stream, inbox / name)
    for i in range(46):
        (inbox / f"m-bad-{i:02d}.mp4").write_bytes(os.urandom(2048))
    (inbox / "z-deleted.mp4").write_bytes(os.urandom(2048))
    (inbox / "z-renamed.mp4").write_bytes(os.urandom(2048))
    watcher = start_watcher(inbox, outbox, load_config(cfg_file))
    try:
        # All 50 are queued (the table knows them) while the first recording is being clipped.
        wait_for(lambda: (outbox / ".clipper" / "jobs.sqlite").exists(), 60)
        wait_for(lambda: len(jobs(outbox)) >= 51, 60)
        assert not (outbox / "z-deleted.error.json").exists()
        (inbox / "z-deleted.mp4").unlink()
        (inbox / "z-renamed.mp4").rename(inbox / "z-renamed-later.mp4")
        wait_for(lambda: jobs(outbox)[-1].startswith("0 pending, 0 running") and len(jobs(outbox)) >= 52, 240)
    finally:
        watcher.stop()
        watcher.thread.join(timeout=60)
    lines = jobs(outbox)
    assert lines[-1].startswith("0 pending, 0 running, 2 done, 49 failed"), lines[-1]
    for name in ("a-good-1", "a-good-2"):
        assert_clean_output(outbox / name)
    errors = sorted(p.name for p in outbox.glob("*.error.json"))
    assert len(errors) == 49 and "z-deleted.error.json" in errors and "z-renamed-later.error.json" in errors
    deleted = json.loads((outbox / "z-deleted.error.json").read_text())
    assert "no such file" in deleted["error"]
    assert all(json.loads((outbox / e).read_text())["error"] for e in errors)


def test_output_disk_filling_up_mid_job_fails_that_job_and_keeps_going(tmp_path, short_stream):
    """The outbox on a small disk that fills up while a job renders: that job fails with its
    error.json and its line in `clipper status`, the finished job's clips are untouched, the
    daemon stays up, and once there is room the next file is clipped."""
    inbox, outbox, cfg = tmp_path / "in", tmp_path / "out", tmp_path / "fast.toml"
    inbox.mkdir()
    outbox.mkdir()
    cfg.write_text(FAST.format(attempts=1).replace("stable_seconds = 2.0", "stable_seconds = 0.5"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(outbox)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    proc = start(inbox, outbox, cfg)
    try:
        wait_for(lambda: "watching" in daemon_log(outbox), 60, proc)
        shutil.copyfile(short_stream, inbox / "a.mp4")
        wait_for(lambda: "1 done" in jobs(outbox)[-1], 180, proc)
        before = {p.name: p.read_bytes() for p in (outbox / "a" / "clips").iterdir()}
        # The disk fills up: what is left holds the small files of a job, not its audio or clips.
        st = os.statvfs(outbox)
        with open(outbox / "filler", "wb") as fh:
            fh.write(b"\0" * (st.f_bavail * st.f_frsize - 256 * 1024))
        shutil.copyfile(short_stream, inbox / "b.mp4")
        error = wait_for(lambda: (outbox / "b.error.json").is_file() and
                         json.loads((outbox / "b.error.json").read_text()), 180, proc)
        assert "no space left on the output disk" in error["error"] and error["state"] == "failed", error
        wait_for(lambda: "1 failed" in jobs(outbox)[-1], 30, proc)
        assert {p.name: p.read_bytes() for p in (outbox / "a" / "clips").iterdir()} == before
        assert proc.poll() is None, "the daemon keeps going"
        (outbox / "filler").unlink()
        shutil.copyfile(short_stream, inbox / "c.mp4")
        wait_for(lambda: "2 done" in jobs(outbox)[-1], 180, proc)
        assert_clean_output(outbox / "c")
        assert not (outbox / "b" / "clips").is_dir() or not list((outbox / "b" / "clips").glob("*.mp4"))
    finally:
        stop(proc)
        subprocess.run(["umount", "-l", str(outbox)], capture_output=True)
