"""The windowed scene pass (clipper.scenes): PySceneDetect's ContentDetector on frames from
PyAV, against PySceneDetect's own whole-file detection and against cuts made at known times."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipper import load_config
from clipper.errors import StageError
from clipper.scenes import detect_cuts

CUTS = (2.0, 4.4)     # where the three shots below change
SHOTS = ("smptebars", "testsrc2", "mandelbrot")


def _shots(out: Path, *encode: str, before: tuple[str, ...] = ()) -> Path:
    """2 s, 2.4 s and 1.6 s of three different pictures at 25 fps, cut together, with a tone."""
    inputs: list[str] = []
    for name, seconds in zip(SHOTS, (CUTS[0], CUTS[1] - CUTS[0], 1.6)):
        inputs += ["-f", "lavfi", "-i", f"{name}=size=320x180:rate=25,trim=duration={seconds}"]
    graph = "[0:v][1:v][2:v]concat=n=3:v=1:a=0,setpts=N/25/TB[v]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *before, *inputs, "-f", "lavfi", "-i", "sine=d=6",
                    "-filter_complex", graph, "-map", "[v]", "-map", "3:a", "-shortest", *encode, str(out)],
                   check=True)
    return out


def _near(found, expected, fps=25.0):
    return len(found) == len(expected) and all(abs(a - b) <= 1.01 / fps for a, b in zip(found, expected))


@pytest.mark.parametrize("kind", ["h264_bframes", "ts_starting_at_1000s", "yuv444p", "vp9"])
def test_cuts_are_found_at_their_times_inside_the_windows_only(kind, tmp_path):
    encode = {"h264_bframes": ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "50",
                               "-pix_fmt", "yuv420p", "-c:a", "aac"],
              "ts_starting_at_1000s": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                                       "-c:a", "aac", "-output_ts_offset", "1000", "-f", "mpegts"],
              "yuv444p": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p", "-c:a", "aac"],
              "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"]}[kind]
    ext = {"ts_starting_at_1000s": "ts", "vp9": "webm"}.get(kind, "mp4")
    video = _shots(tmp_path / f"shots.{ext}", *encode)
    cfg = load_config().scenes
    # Windows around both cuts, one with no cut, one running past the end of the file.
    shots = detect_cuts(video, [(1.5, 2.5), (3.0, 3.6), (4.0, 4.8), (5.5, 9.0)], cfg)
    assert _near(shots.cuts, CUTS), shots.cuts
    assert detect_cuts(video, [(3.0, 3.6)], cfg).cuts == ()
    # As PySceneDetect finds them reading the whole file itself (the times it gives are from
    # the stream's first frame; ours from the file's start, as ffmpeg's -ss counts).
    from scenedetect import ContentDetector, detect

    whole = [round(start.seconds, 3) for start, _ in detect(str(video), ContentDetector(threshold=cfg.threshold))[1:]]
    assert _near(shots.cuts, whole), (shots.cuts, whole)


def test_a_cut_at_the_very_start_of_a_window_is_found(tmp_path):
    """The window's short lead-in is not a scene that just began: the detector's
    min_scene_len (0.4 s) must not hold back a cut on the window's first frames."""
    video = _shots(tmp_path / "shots.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "50",
                   "-pix_fmt", "yuv420p")
    cfg = load_config().scenes
    for start in (CUTS[0] - 0.04, CUTS[0], CUTS[1] - 0.04, CUTS[1]):
        found = detect_cuts(video, [(start, start + 0.6)], cfg).cuts
        assert len(found) == 1 and abs(found[0] - min(CUTS, key=lambda c: abs(c - start))) <= 1.01 / 25, (start, found)


def test_many_windows_are_read_by_two_demuxers_with_the_same_cuts(tmp_path, monkeypatch):
    from clipper import scenes

    video = _shots(tmp_path / "shots.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "50",
                   "-pix_fmt", "yuv420p")
    made = []
    real_init = scenes._WindowReader.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(self.decoder_threads)

    monkeypatch.setattr(scenes._WindowReader, "__init__", init)
    monkeypatch.setattr(scenes.os, "cpu_count", lambda: 2)
    windows = [(round(0.5 * k, 2), round(0.5 * k + 0.5, 2)) for k in range(12)]
    seen = []
    shots = detect_cuts(video, windows, load_config().scenes, on_progress=lambda n, of: seen.append((n, of)))
    assert made == [False, False], "two readers, each with a single-threaded decoder"
    assert _near(shots.cuts, CUTS), shots.cuts
    assert seen == [(n, 12) for n in range(1, 13)]


def test_windows_report_progress_and_nothing_is_decoded_when_disabled(tmp_path):
    video = _shots(tmp_path / "shots.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    seen = []
    detect_cuts(video, [(1.5, 2.5), (4.0, 4.8)], load_config().scenes, on_progress=lambda n, of: seen.append((n, of)))
    assert seen == [(1, 2), (2, 2)]
    off = load_config(overrides={"scenes": {"enabled": False}}).scenes
    assert detect_cuts(tmp_path / "no such file.mp4", [(1.0, 2.0)], off).cuts == ()


def test_a_file_that_is_not_a_video_is_a_stage_error(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(StageError, match="scene detection cannot open the video"):
        detect_cuts(junk, [(1.0, 2.0)], load_config().scenes)
    sound = tmp_path / "sound.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=d=2", "-c:a", "aac", str(sound)], check=True)
    with pytest.raises(StageError, match="scene detection cannot open the video"):
        detect_cuts(sound, [(0.5, 1.0)], load_config().scenes)


@pytest.mark.parametrize("name", ["vid_en_documentary_objects_cuts_25s.mp4", "vid_nature_cuts_noaudio_24s.mp4",
                                  "vid_en_goldeneye_cuts_rot90_10s.mp4"])
def test_real_footage_gives_the_cuts_pyscenedetect_finds_in_the_whole_file(name):
    """Recordings nobody here made (../shared/media): a window around each cut PySceneDetect
    finds reading the whole file finds that cut, to the frame. (Colours converted with OpenCV's
    full-range YUV matrix lost two of these ten cuts: the test that caught it.)"""
    from conftest import shared_media
    from scenedetect import ContentDetector, detect

    path = shared_media(name)
    cfg = load_config().scenes
    whole = [round(s.seconds, 3) for s, _ in detect(str(path), ContentDetector(threshold=cfg.threshold,
                                                                                min_scene_len=10))[1:]]
    assert whole
    shots = detect_cuts(path, [(max(0.0, c - 0.6), c + 0.6) for c in whole], cfg)
    assert _near(shots.cuts, whole, fps=25.0), (shots.cuts, whole)


# -- the scene prefetch (clipper.pipeline.prefetch) ---------------------------------------------
def _heard(*sentences: tuple[str, float, float], start: float = 0.0, end: float | None = None):
    """A window of the journal whose sentences are ``(text, start, end)``, one word each."""
    from clipper.transcribe.whisper import ChunkResult
    from clipper.types import Word

    words = tuple(Word(text, a, b) for text, a, b in sentences)
    return ChunkResult(start, end if end is not None else sentences[-1][2], "en", 1.0, words,
                       tuple((w.start, w.end, w.text, 1) for w in words))


# Five sentences over _shots' 6 s: the gaps after the first two hold its two cuts.
HEARD = (("One.", 0.2, 1.8), ("Two.", 2.2, 4.2), ("Three.", 4.6, 5.0), ("Four.", 5.2, 5.5), ("Five.", 5.7, 5.9))


def test_prefetch_reads_the_settled_gaps_between_sentences():
    from clipper.pipeline.prefetch import UNSETTLED, prefetch_windows

    config = load_config()
    windows = prefetch_windows([_heard(*HEARD)], config, "tiny.en")
    # The silence before the first word, and the gaps of all but the last UNSETTLED sentences.
    assert UNSETTLED == 2 and windows == [(0.0, 0.2), (1.8, 2.2), (4.2, 4.6), (5.0, 5.2)]
    # A window that does not start the source has no lead-in gap.
    later = prefetch_windows([_heard(*((t, a + 100, b + 100) for t, a, b in HEARD), start=100.0)], config, "tiny.en")
    assert later[0] == (101.8, 102.2)


def test_prefetched_windows_are_not_read_again_and_give_the_same_cuts(tmp_path, monkeypatch):
    """The prefetch thread reads the gaps while the window is still being heard (at idle
    priority), the walk's ShotFinder then reads none of them again, and their cuts are those
    a pass reading the same windows itself finds."""
    import threading
    import time

    from clipper.pipeline import prefetch as prefetch_module
    from clipper.pipeline import stages
    from clipper.pipeline.prefetch import ScenePrefetch
    from clipper.pipeline.stages import ShotFinder
    from clipper.media.probe import probe

    video = _shots(tmp_path / "shots.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "50",
                   "-pix_fmt", "yuv420p", "-c:a", "aac")
    config = load_config()
    info = probe(video)
    finder = ShotFinder(str(video), config)
    policies = []
    monkeypatch.setattr(prefetch_module, "LOOK_EVERY", 1.0)
    real_scanner = prefetch_module.WindowScanner

    def scanner(*args, **kwargs):   # the thread's scheduling class, seen from the thread itself
        import os
        policies.append(os.sched_getscheduler(0))
        return real_scanner(*args, **kwargs)

    monkeypatch.setattr(prefetch_module, "WindowScanner", scanner)
    prefetch = ScenePrefetch(finder, info, config, "tiny.en")
    prefetch.hearing(_heard(*HEARD[:3]))          # part of the window: only the lead-in is settled
    prefetch.hearing(_heard(*HEARD))
    deadline = time.monotonic() + 60
    while prefetch.read < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    prefetch.close()
    assert not any(t.name == "clipper-scene-prefetch" for t in threading.enumerate())
    assert prefetch.idle and policies == [__import__("os").SCHED_IDLE]
    assert prefetch.read == 4

    asked = []
    real = stages.detect_cuts
    monkeypatch.setattr(stages, "detect_cuts", lambda src, windows, cfg: asked.append(windows) or real(src, windows, cfg))
    wanted = [(1.8, 2.2), (4.2, 4.6), (5.5, 5.7)]
    shots = finder(wanted)
    assert asked == [[(5.5, 5.7)]]                 # only the window the prefetch had not reached
    fresh = ShotFinder(str(video), config)(wanted)
    assert shots.cuts == fresh.cuts and _near(shots.cuts, CUTS)


def test_a_stopped_prefetch_drops_the_window_in_hand(tmp_path):
    from clipper.scenes import WindowScanner
    from clipper.media.ffmpeg import media_path

    video = _shots(tmp_path / "shots.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    scanner = WindowScanner(media_path(video), str(video), load_config().scenes)
    try:
        assert scanner.cuts((1.5, 2.5), should_stop=lambda: True) is None
        assert _near(scanner.cuts((1.5, 2.5)), CUTS[:1])
    finally:
        scanner.close()


def test_prefetch_runs_where_the_recogniser_leaves_a_core_free():
    from clipper.pipeline.prefetch import prefetch_wanted

    assert not prefetch_wanted("auto", "cpu", 2, 2)     # both cores decoding: idle is not free (measured)
    assert prefetch_wanted("auto", "cpu", 8, 4) and prefetch_wanted("auto", "cuda", 2, 2)
    assert prefetch_wanted("on", "cpu", 2, 2) and not prefetch_wanted("off", "cuda", 8, 1)


def test_the_detector_is_imported_early_in_a_thread():
    """A fresh interpreter: the import runs in a thread of its own (so the run's start overlaps
    it) and is done once that thread is joined; once imported, nothing is started."""
    import subprocess
    import sys

    code = ("import sys, threading; from clipper.scenes import import_detector_early\n"
            "assert 'scenedetect' not in sys.modules\n"
            "t = import_detector_early(); assert t is not None and t.name != threading.current_thread().name\n"
            "t.join(); assert 'scenedetect' in sys.modules and import_detector_early() is None; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok"


def test_a_walk_imports_the_detector_only_when_it_is_about_to_hear(tmp_path):
    """A walk made for a rerun that hears nothing (its journal complete) starts no import;
    ``about_to_hear`` starts it where a video is searched for cuts, and ``close`` joins it."""
    import subprocess
    import sys

    code = f"""
import sys
from dataclasses import replace
from pathlib import Path
from clipper.config import load_config
from clipper.pipeline.journal import Journal
from clipper.pipeline.walk import Walk
from clipper.types import MediaInfo
from clipper.workspace import Workspace
ws = Workspace(Path({str(tmp_path)!r}))
info = MediaInfo(path="x.mp4", duration=10.0, size_bytes=1, format_name="mp4", has_video=True, has_audio=True)
cfg = load_config()
walk = Walk(cfg, info, Journal.open(ws, "k"), {{"plan": "p"}}, "tiny", None)
assert "scenedetect" not in sys.modules and walk._importing is None
audio_only = Walk(cfg, replace(info, has_video=False), Journal.open(ws, "k"), {{"plan": "p"}}, "tiny", None)
audio_only.about_to_hear()
assert audio_only._importing is None
walk.about_to_hear()
assert walk._importing is not None
walk.close()
assert "scenedetect" in sys.modules
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
