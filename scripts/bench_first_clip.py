#!/usr/bin/env python3
"""Time to the first published clip against total wall time, on a long stream, for one or more checkouts.

    .venv/bin/python scripts/bench_first_clip.py [SOURCE] [--repeat 8] [--model tiny.en]
        [--preset veryfast] [--code OTHER_CHECKOUT ...] [--rounds 1]

SOURCE (default: the sample stream) is concatenated ``--repeat`` times (stream copy). Each
checkout given with ``--code`` (default: this one) runs ``clipper run`` on it in a fresh
process, alternating when there are several (e.g. the commit before the incremental
pipeline, from ``git worktree add /tmp/before <rev>``); the measurement is
``benchmark.first_clip`` (``scripts/benchmark.py --only f`` runs it on this checkout beside
the other side-by-side measurements). Prints seconds to the first clip, when transcription
finished (from the manifest's timings where the code reports it) and the total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from benchmark import SAMPLE, concat, first_clip  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default=str(SAMPLE))
    ap.add_argument("--repeat", type=int, default=8)
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--preset", default="veryfast")
    ap.add_argument("--code", action="append", type=Path, help="a checkout to run (repeatable)")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    codes = args.code or [ROOT]
    overrides = {"transcribe": {"model": args.model}, "render": {"preset": args.preset}}
    with tempfile.TemporaryDirectory(prefix="clipper-first-") as tmp:
        source = concat(Path(args.source), args.repeat, Path(tmp) / "long.mp4")
        rows = []
        for r in range(args.rounds):
            for n, code in enumerate(codes):
                row = first_clip(code.resolve(), source, Path(tmp) / f"out-{r}-{n}", overrides)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\n{'code':40s} {'first clip':>10s} {'transcribed':>11s} {'total':>7s} clips")
    for row in rows:
        print(f"{row['code'][-40:]:40s} {row['first_clip']:>9.1f}s {str(row['transcribed']):>10s}s "
              f"{row['total']:>6.1f}s {row['clips']}")


if __name__ == "__main__":
    main()
