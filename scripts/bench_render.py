#!/usr/bin/env python3
"""Render overhead, side by side: clipper's render of a run's clips against a bare ffmpeg
encode of the same source ranges to the same frame, at the same x264 preset and CRF.

    .venv/bin/python scripts/bench_render.py [RUN_DIR] [--rounds 3] [--preset veryfast]

RUN_DIR is a finished ``clipper run`` folder (default: the bundled sample, clipped once with
tiny.en into a temporary folder). The two are measured alternately, ``--rounds`` times, on
the same input; clipper's side renders every clip again from the saved plan (its render cache
cleared), with everything a clip gets: layout, subtitles, title, AI labels, loudness, cover and
verification. The bare side is one ffmpeg per clip: seek, scale and crop to the frame, x264 and
AAC, nothing else. Prints each round's ratio and the median; writes
``bench/results/<date>-<machine>-render.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_encode(source: str, clips: list[dict], cfg, out: Path) -> None:
    w, h = cfg.width, cfg.height
    for c in clips:
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", f"{c['start']:.3f}",
                        "-t", f"{c['end'] - c['start']:.3f}", "-i", source,
                        "-vf", f"scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},fps={cfg.fps:g}",
                        "-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf), "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-b:a", cfg.audio_bitrate, "-ar", str(cfg.audio_rate),
                        str(out / f"{c['id']}.mp4")], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--preset", help="x264 preset for both sides (default: the run's)")
    args = ap.parse_args()

    from clipper import Pipeline, load_config
    from clipper.pipeline import load_run

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(args.run_dir) if args.run_dir else Path(tmp) / "sample run"
        if not args.run_dir:
            sys.path.insert(0, str(ROOT / "scripts"))
            import make_sample

            print("clipping the sample once (tiny.en)…", file=sys.stderr)
            Pipeline(load_config(overrides={"transcribe": {"model": "tiny.en"}})).run(make_sample.build(), run_dir)
        saved = load_run(run_dir)
        overrides = {"render": {"preset": args.preset}} if args.preset else None
        cfg = load_config(base=saved.config, overrides=overrides)
        clips = json.loads((run_dir / "manifest.json").read_text())["clips"]
        seconds = sum(c["end"] - c["start"] for c in clips)
        print(f"{len(clips)} clips, {seconds:.1f} s of video, {cfg.render.width}x{cfg.render.height}, "
              f"x264 {cfg.render.preset} crf {cfg.render.crf}, render jobs {cfg.render.jobs}, {os.cpu_count()} cores")
        rounds = []
        bare_dir = Path(tmp) / "bare"
        bare_dir.mkdir()
        for n in range(args.rounds):
            (run_dir / ".clipper" / "renders.json").unlink(missing_ok=True)
            shutil.rmtree(run_dir / "clips", ignore_errors=True)
            t0 = time.perf_counter()
            Pipeline(cfg).rerender(run_dir)
            ours = time.perf_counter() - t0
            t0 = time.perf_counter()
            bare_encode(saved.media.path, clips, cfg.render, bare_dir)
            bare = time.perf_counter() - t0
            rounds.append({"clipper": round(ours, 2), "bare": round(bare, 2), "ratio": round(ours / bare, 3)})
            print(f"round {n + 1}: clipper {ours:6.2f} s   bare ffmpeg {bare:6.2f} s   ratio {ours / bare:.2f}")
        median = statistics.median(r["ratio"] for r in rounds)
        print(f"median ratio (clipper render / bare encode): {median:.2f}")
        result = {"date": date.today().isoformat(), "machine": platform.node(), "cpu": platform.processor(),
                  "cores": os.cpu_count(), "clips": len(clips), "video_seconds": round(seconds, 1),
                  "frame": f"{cfg.render.width}x{cfg.render.height}", "preset": cfg.render.preset,
                  "crf": cfg.render.crf, "rounds": rounds, "median_ratio": median}
        dest = ROOT / "bench" / "results" / f"{date.today().isoformat()}-{platform.node() or 'machine'}-render.json"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
