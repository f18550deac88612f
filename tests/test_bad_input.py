"""Bad input: a clear one-line error, a non-zero exit, and no clips left behind.

The corpus of bad and odd inputs (scripts/make_bad_inputs.py) is run by test_bad_inputs.py;
these are the cases it does not hold.
"""

import subprocess
import sys
from pathlib import Path


from conftest import shared_media


def clipper(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "clipper.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_clean_failure(proc: subprocess.CompletedProcess, out: Path, code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("clipper: error:"), proc.stderr
    assert needle in lines[0]
    assert not list(out.glob("clips/*.mp4")), "no clip may be left behind"


def test_corrupt_file(sample_stream, tmp_path):
    src = tmp_path / "corrupt.mp4"
    data = bytearray(sample_stream.read_bytes())
    data[: len(data) // 2] = b"\x00" * (len(data) // 2)  # header and first half destroyed
    src.write_bytes(bytes(data))
    out = tmp_path / "out"
    proc = clipper("run", str(src), "--out", str(out))
    assert_clean_failure(proc, out, 3, "corrupt.mp4")


def test_video_without_audio_is_named_as_such(tmp_path):
    src = shared_media("vid_nature_cuts_noaudio_24s.mp4")
    out = tmp_path / "out"
    proc = clipper("run", str(src), "--out", str(out))
    assert_clean_failure(proc, out, 3, "no audio track")


def test_classify_contract(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "The fabric is pure linen, so soft and breathable.", "passage": "p1"}\n'
                   '{"id": "b", "text": "Link is up, only 29 dollars tonight!", "passage": "p1"}\n'
                   '{"id": "c", "text": "Hi everyone, welcome to the live room!"}\n'
                   '{"id": "d", "text": "这款面料是百分百桑蚕丝，非常亲肤"}\n'
                   '{"id": "e", "text": "三二一上链接，今天直播间到手价一百六十九元"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = clipper("classify", str(src), "--out", str(out), "--backend", "rules", "--category", "apparel")
    assert proc.returncode == 0, proc.stderr
    import json

    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["label"] for r in rows] == ["SELLING_POINT", "PROMO", "CHATTER", "SELLING_POINT", "PROMO"]
    assert "fabric" in rows[0]["tags"] and "fabric" in rows[3]["tags"]
