#!/usr/bin/env python3
"""Time to the first published clip against total wall time, on a long stream.

    .venv/bin/python scripts/bench_first_clip.py [SOURCE] [--repeat 8] [--model tiny.en]
        [--code OTHER_CHECKOUT ...]

SOURCE (default: the sample stream) is concatenated ``--repeat`` times (stream copy). Each
checkout given with ``--code`` (default: this one) runs ``clipper run`` on it in a fresh
process, alternating when there are several (e.g. the commit before the incremental
pipeline, from ``git worktree add /tmp/before <rev>``), while this process watches the
clips folder: the first ``cNNN.mp4`` to appear is the first published clip (clips are
renamed into place only when finished and verified). Prints seconds to the first clip,
when transcription finished (from the manifest's timings where the code reports it) and
the total.
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
sys.path.insert(0, str(ROOT / "scripts"))

from benchmark import concat  # noqa: E402

CHILD = """
import sys
from clipper import Pipeline, load_config
cfg = load_config(overrides={"transcribe": {"model": sys.argv[3]}, "render": {"preset": sys.argv[4]}})
Pipeline(cfg).run(sys.argv[1], sys.argv[2])
"""


def one(code: Path, source: Path, out: Path, model: str, preset: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    start = time.perf_counter()
    # cwd: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH.
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(source), str(out), model, preset], env=env,
                            cwd=code, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None:
        if first is None and (out / "clips").is_dir() and any((out / "clips").glob("c*.mp4")):
            first = time.perf_counter() - start
        time.sleep(0.2)
    total = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{code}: run failed: {proc.stderr.read()[-2000:]}")
    timings = json.loads((out / "manifest.json").read_text()).get("timings", {})
    heard = timings.get("transcribed")
    if heard is None and "transcribe" in timings:   # the stage-after-stage pipeline
        heard = sum(timings.get(s, 0.0) for s in ("probe", "transcribe"))
    clips = len(json.loads((out / "manifest.json").read_text())["clips"])
    return {"code": str(code), "first_clip": round(first or total, 1), "transcribed": heard and round(heard, 1),
            "total": round(total, 1), "clips": clips}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default=str(ROOT / "sample_media" / "sample_stream.mp4"))
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--code", action="append", type=Path, help="a checkout to run (repeatable)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    codes = args.code or [ROOT]
    with tempfile.TemporaryDirectory(prefix="clipper-first-") as tmp:
        source = concat(Path(args.source), args.repeat, Path(tmp) / "long.mp4")
        rows = []
        for r in range(args.rounds):
            for n, code in enumerate(codes):
                row = one(code.resolve(), source, Path(tmp) / f"out-{r}-{n}", args.model, args.preset)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'code':40s} {'first clip':>10s} {'transcribed':>11s} {'total':>7s} clips")
    for row in rows:
        print(f"{row['code'][-40:]:40s} {row['first_clip']:>9.1f}s {str(row['transcribed']):>10s}s "
              f"{row['total']:>6.1f}s {row['clips']}")


if __name__ == "__main__":
    main()
