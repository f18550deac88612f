#!/usr/bin/env python3
"""Measure clipper: seconds per stage, real-time factor of transcription, peak memory.

    .venv/bin/python scripts/benchmark.py [SOURCE] [--models tiny.en,base] [--repeat N] [--jobs J]

SOURCE defaults to the sample stream. ``--repeat N`` first concatenates SOURCE N times
(stream copy, no re-encode) to show how time and memory scale with stream length.
Each model runs in a fresh process so peak memory (ru_maxrss of the clipper process, not of
the ffmpeg processes it starts) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def concat(source: Path, times: int, dest: Path) -> Path:
    listing = dest.with_suffix(".txt")
    listing.write_text("".join(f"file '{source.resolve()}'\n" for _ in range(times)))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(dest)], check=True)
    return dest


def one_run(source: str, model: str, jobs: int, out: str, transcribe_only: bool = False) -> dict:
    """Runs in a child process: the pipeline once, cold (empty work folder)."""
    import resource

    from clipper import Pipeline, load_config
    from clipper.workspace import Workspace

    cfg = load_config(overrides={"transcribe": {"model": model}, "render": {"jobs": jobs}})
    start = time.perf_counter()
    if transcribe_only:
        pipeline = Pipeline(cfg)
        info = pipeline.probe(source)
        transcript, _ = pipeline.transcribe(info, Workspace(Path(out)))
        wall = time.perf_counter() - start
        return {"model": model, "duration": info.duration, "words": len(transcript.words), "wall": wall,
                "rtf_transcribe": wall / info.duration,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
    result = Pipeline(cfg).run(source, out)
    wall = time.perf_counter() - start
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rendered = sum(c.duration for c in result.clips)
    # Clips render while the stream is still being transcribed: "transcribed" is when the last
    # window was heard (renders overlapping), "first_clip" when the first clip was published.
    return {"model": model, "duration": result.media.duration, "timings": result.timings, "wall": wall,
            "rtf_transcribe": result.timings["transcribed"] / result.media.duration,
            "clips": len(result.clips), "clip_seconds": rendered, "peak_rss_mb": round(me)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", nargs="?", default=str(ROOT / "sample_media" / "sample_stream.mp4"))
    ap.add_argument("--models", default="tiny.en,base")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--transcribe-only", action="store_true", help="probe + audio + transcription only")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_run(args.source, args.child[0], int(args.child[1]), args.child[2],
                                 args.transcribe_only)))
        return
    if args.source.endswith("sample_stream.mp4") and not Path(args.source).exists():
        sys.path.insert(0, str(ROOT / "scripts"))
        import make_sample

        make_sample.build()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(args.source)
        if args.repeat > 1:
            source = concat(source, args.repeat, Path(tmp) / f"long{source.suffix}")
        print(f"source: {source.name}  cores: {os.cpu_count()}  render jobs: {args.jobs}")
        header = f"{'model':<8} {'dur s':>7} {'1st clip':>8} {'heard':>7} {'RTF':>6} " \
                 f"{'clips':>5} {'wall':>7} {'RSS MB':>7}"
        print(header)
        for model in args.models.split(","):
            out = Path(tmp) / f"out-{model}"
            proc = subprocess.run([sys.executable, __file__, str(source), "--child", model, str(args.jobs),
                                   str(out)] + (["--transcribe-only"] if args.transcribe_only else []),
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{model}: failed: {proc.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if args.transcribe_only:
                print(f"{model:<8} {r['duration']:7.1f} s of audio: {r['wall']:.1f} s (RTF {r['rtf_transcribe']:.3f}, "
                      f"probe and audio extraction included), {r['words']} words, peak RSS {r['peak_rss_mb']} MB")
                continue
            t = r["timings"]
            print(f"{model:<8} {r['duration']:7.1f} {t.get('first_clip', float('nan')):8.2f} {t['transcribed']:7.2f} "
                  f"{r['rtf_transcribe']:6.3f} {r['clips']:5d} {r['wall']:7.1f} {r['peak_rss_mb']:7d}")


if __name__ == "__main__":
    main()
