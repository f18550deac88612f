"""scripts/benchmark.py --quick: every side-by-side measurement runs and gives a usable ratio."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_quick_benchmark_writes_every_ratio(sample_stream, tmp_path):
    results, streams = tmp_path / "results", tmp_path / "streams"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--quick",
                           "--results", str(results), "--streams", str(streams)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = list(results.glob("*.json"))
    assert len(written) == 1
    data = json.loads(written[0].read_text())
    assert set(data["ratios"]) == {"analysis", "render", "moviepy", "scenes", "rss", "first_clip"}
    for name, value in data["ratios"].items():
        assert math.isfinite(value) and value > 0, (name, value)
    for m in data["measurements"].values():
        assert len(m["rounds"]) == 1
    machine = data["machine"]
    assert machine["cores"] >= 1 and machine["ffmpeg"].startswith("ffmpeg version")
    assert machine["packages"]["moviepy"] and machine["packages"]["faster-whisper"]
    assert data["settings"]["quick"] and data["settings"]["model"] == "tiny.en"
    for line in ("analysis", "render", "MoviePy", "RSS", "first published clip"):
        assert line in proc.stdout


def test_only_rejects_unknown_measurements():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--only", "a,z"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--only takes letters of a,b,c,d,e,f" in proc.stderr
