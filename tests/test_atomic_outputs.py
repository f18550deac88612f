"""A failed run never leaves a half clip that looks finished.

56 s of the sample's sound (10-66 s: two products, 122 words; three windows of at most 30 s)
under a small test picture: these tests are about what is kept and published, which the rest of
the sample and its 1280x720 picture would not change; the failed render hears only its first
17.5 s (one product's selling points).
"""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import test_picture_stream

from clipper import Pipeline, load_config
from clipper.errors import FFmpegError

pytestmark = pytest.mark.slow
FROM, SECONDS = 10.0, 56.0   # the first product (11-26 s of the sample) to the second's promo (58-63 s)
CHUNK = 30       # the shortest window clipper allows


@pytest.fixture(scope="module")
def stream(sample_stream, tmp_path_factory) -> Path:
    return test_picture_stream(sample_stream, tmp_path_factory.mktemp("atomic") / "stream.mp4", FROM, SECONDS)


@pytest.fixture(scope="module")
def short_stream(stream) -> Path:
    """Its first 17.5 s: one product's selling points, one clip."""
    out = stream.with_name("short.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(stream), "-t", "17.5", "-c", "copy", str(out)], check=True)
    return out


def test_failed_render_leaves_no_clip_and_no_manifest(short_stream, tmp_path):
    # A logo that is no image (bad values such as an unknown x264 preset are refused when the
    # config loads): ffmpeg really fails, mid-run.
    logo = tmp_path / "logo.png"
    logo.write_text("not a picture\n")
    cfg = load_config(overrides={"transcribe": {"model": "tiny.en"},
                                 "render": {"logo": str(logo), "width": 180, "height": 320, "layout": "crop",
                                            "fps": 10, "preset": "ultrafast", "loudness": 0.0}})
    out = tmp_path / "out"
    with pytest.raises(FFmpegError, match="rendering c001 failed"):
        Pipeline(cfg).run(short_stream, out)
    clips = out / "clips"
    assert not list(clips.glob("*.mp4")) and not list(clips.glob("*.srt"))
    assert not [p for p in clips.iterdir() if p.name.startswith(".")], "temp folders are cleaned up"
    assert not (out / "manifest.json").exists()
    # The expensive work is kept: the transcript is there for the next attempt.
    assert (out / ".clipper" / "transcript.json").is_file()


def test_transcribe_command_writes_words_and_sentences(stream, tmp_path):
    # The command in this process (click's CliRunner): a process of its own would prove nothing more.
    from clipper.cli import main

    out = tmp_path / "t.json"
    result = CliRunner().invoke(main, ["transcribe", str(stream), "--out", str(out), "--model", "tiny.en"])
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(out.read_text())
    assert data["language"] == "en" and data["model"] == "tiny.en"
    assert len(data["words"]) > 100 and all(w["end"] >= w["start"] for w in data["words"])
    assert any("linen" in s["text"].lower() for s in data["sentences"])


def test_transcription_resumes_from_the_windows_of_a_killed_run(stream, tmp_path):
    from clipper.workspace import Workspace

    cfg = load_config(overrides={"transcribe": {"model": "tiny.en", "chunk_seconds": CHUNK}})
    pipeline = Pipeline(cfg)
    info = pipeline.probe(stream)
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
    # Words of the last window (past the two saved ones) to the source's last seconds (its last
    # sentence ends at 52.9 s).
    assert not reused and transcript.words[-1].end > SECONDS - 6
    full, _ = Pipeline(cfg).transcribe(info, Workspace(tmp_path / "fresh"))
    assert [w.text for w in transcript.words] == [w.text for w in full.words]
    assert not ws.path("audio.wav").exists(), "the extracted audio goes once the transcript is saved"
