"""A failed run never leaves a half clip that looks finished."""

import json
import subprocess
import sys

import pytest

from clipper import Pipeline, load_config
from clipper.errors import FFmpegError

pytestmark = pytest.mark.slow


def test_failed_render_leaves_no_clip_and_no_manifest(sample_stream, tmp_path):
    # A logo that is no image (bad values such as an unknown x264 preset are refused when the
    # config loads): ffmpeg really fails, mid-run.
    logo = tmp_path / "logo.png"
    logo.write_text("not a picture\n")
    cfg = load_config(overrides={"transcribe": {"model": "tiny.en"}, "render": {"logo": str(logo)}})
    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match="rendering c001 failed"):
        Pipeline(cfg).run(sample_stream, out)
    clips = out / "clips"
    assert not list(clips.glob("*.mp4")) and not list(clips.glob("*.srt"))
    assert not [p for p in clips.iterdir() if p.name.startswith(".")], "temp folders are cleaned up"
    assert not (out / "manifest.json").exists()
    # The expensive work is kept: the transcript is there for the next attempt.
    assert (out / ".clipper" / "transcript.json").is_file()


def test_transcribe_command_writes_words_and_sentences(sample_stream, tmp_path):
    out = tmp_path / "t.json"
    proc = subprocess.run([sys.executable, "-m", "clipper.cli", "transcribe", str(sample_stream), "--out", str(out),
                           "--model", "tiny.en"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["language"] == "en" and data["model"] == "tiny.en"
    assert len(data["words"]) > 100 and all(w["end"] >= w["start"] for w in data["words"])
    assert any("linen" in s["text"].lower() for s in data["sentences"])


def test_transcription_resumes_from_the_windows_of_a_killed_run(sample_stream, tmp_path):
    from clipper.workspace import Workspace

    cfg = load_config(overrides={"transcribe": {"model": "tiny.en", "chunk_seconds": 30}})
    pipeline = Pipeline(cfg)
    info = pipeline.probe(sample_stream)
    ws = Workspace(tmp_path / "out")
    calls = {"n": 0}

    def stop_after_two_windows():
        calls["n"] += 1
        return calls["n"] == 2

    stopping = Pipeline(cfg, should_stop=stop_after_two_windows)
    from clipper.errors import Interrupted

    with pytest.raises(Interrupted):
        stopping.transcribe(info, ws)
    saved = ws.path("journal.jsonl").read_text().splitlines()
    assert len(saved) == 2  # two windows kept on disk
    transcript, reused = pipeline.transcribe(info, ws)
    assert not reused and transcript.words[-1].end > 80
    full, _ = Pipeline(cfg).transcribe(info, Workspace(tmp_path / "fresh"))
    assert [w.text for w in transcript.words] == [w.text for w in full.words]
    assert not ws.path("audio.wav").exists(), "the extracted audio goes once the transcript is saved"
