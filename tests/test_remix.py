"""clipper remix over two manifests: selection, duration, subtitle sync, its own manifest."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pysubs2
import pytest

from conftest import ffprobe, frame

pytestmark = pytest.mark.slow


def test_remix_of_two_manifests_by_tag(sample_run, tmp_path):
    first = sample_run.out_dir
    second = tmp_path / "another stream"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns(".clipper"))
    fabric = [c for c in sample_run.manifest["clips"] if "fabric" in c["tags"]][:1]
    assert fabric, "the sample has a fabric clip"
    cfg = tmp_path / "fast.toml"
    cfg.write_text('[render]\npreset = "ultrafast"\n')
    out = tmp_path / "remix" / "fabric 混剪.mp4"
    proc = subprocess.run([sys.executable, "-m", "clipper.cli", "remix", str(first / "manifest.json"),
                           str(second / "manifest.json"), "--out", str(out), "--tags", "fabric",
                           "--product", str(fabric[0]["product"]), "--max-seconds", "60", "--transition", "0.5",
                           "--config", str(cfg)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    remix = json.loads(out.with_suffix(".json").read_text())
    chosen = remix["clips"]
    assert len(chosen) == 2 and {c["manifest"] for c in chosen} == {str(first / "manifest.json"),
                                                                     str(second / "manifest.json")}
    assert all("fabric" in c["tags"] for c in chosen)
    expected = sum(c["duration"] for c in chosen) - 0.5 * (len(chosen) - 1)
    assert abs(float(ffprobe(out)["format"]["duration"]) - expected) <= 0.3
    # Subtitles in sync: the remix's .srt is each clip's .srt moved to the clip's place...
    remix_subs = pysubs2.load(str(out.with_suffix(".srt")))
    clip_subs = pysubs2.load(str(second / fabric[0]["subtitles"]))
    offset_ms = int(chosen[1]["start"] * 1000)
    assert any(abs(e.start - (clip_subs[0].start + offset_ms)) <= 10 and e.text == clip_subs[0].text
               for e in remix_subs)
    # ...and the picture (subtitles burned in) at that moment is the clip's own.
    t = clip_subs[1].start / 1000 + 0.2
    mine = frame(out, chosen[1]["start"] + t).astype(int)
    theirs = frame(second / fabric[0]["file"], t).astype(int)
    assert np.abs(mine - theirs).mean() < 6


def test_nothing_selected_is_a_clear_error(sample_run, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "clipper.cli", "remix", str(sample_run.manifest_path),
                           "--out", str(tmp_path / "x.mp4"), "--tags", "no_such_tag"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no clip matches" in proc.stderr
    assert not (tmp_path / "x.mp4").exists()
