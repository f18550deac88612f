"""What the sample-stream generators share: a sound track laid out line by line, a picture of
ffmpeg test patterns with hard cuts at known times, the ground-truth file, and the check that
lets a second build skip the work.

``make_sample.py`` (English, espeak-ng) and ``make_sample_zh.py`` (Mandarin, Kokoro) differ in
the voice and in where they cut the picture; everything else is here, so the two truth files
have one format: ``{"source", "duration", "scene_cuts": [s], "lines": [{"text", "label",
"tags", "product", "passage", "start", "end", ...}]}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import wave
from pathlib import Path

# Test-pattern sources for the scenes, one per scene in order of first use (the English sample
# uses the first seven; the Mandarin one has more scenes, each its own pattern so every cut shows).
PATTERNS = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "pal100bars", "yuvtestsrc", "smptebars",
            "colorspectrum", "gradients", "pal75bars"]


def is_fresh(outputs: list[Path], inputs: list[Path]) -> bool:
    """Every output exists and is newer than every input: the build can be skipped."""
    if not all(p.exists() for p in outputs):
        return False
    return min(p.stat().st_mtime for p in outputs) > max(p.stat().st_mtime for p in inputs)


class Track:
    """A mono 16-bit sound track built by appending speech and silence; times in seconds."""

    def __init__(self, rate: int):
        self.rate = rate
        self.pcm = bytearray()

    @property
    def now(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def pause(self, seconds: float) -> None:
        self.pcm += b"\x00\x00" * int(round(seconds * self.rate))

    def add(self, pcm: bytes) -> tuple[float, float]:
        """Append speech (s16le at ``rate``); returns where it starts and ends."""
        start = self.now
        self.pcm += pcm
        return start, self.now

    def write_wav(self, path: Path) -> None:
        with wave.open(str(path), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(self.rate)
            wf.writeframes(bytes(self.pcm))


def pauses(pcm: bytes, rate: int, offset: float, min_seconds: float = 0.15, floor: float = 0.01) -> list[list[float]]:
    """Silences inside one line of speech (s16le), in seconds of the track: where a voice
    breathes at a comma. A clip may start there without cutting a word."""
    import numpy as np

    frame = rate // 100  # 10 ms
    samples = np.frombuffer(pcm, dtype="<i2")[: len(pcm) // 2 // frame * frame].astype(np.float32) / 32768
    quiet = np.sqrt((samples.reshape(-1, frame) ** 2).mean(axis=1)) < floor
    out, run = [], None
    for i, q in enumerate([*quiet, False]):
        if q and run is None:
            run = i
        elif not q and run is not None:
            if i - run >= min_seconds * 100:
                out.append([round(offset + run / 100, 3), round(offset + i / 100, 3)])
            run = None
    return out


def pcm_from_file(path: Path, rate: int) -> bytes:
    """Any sound file as mono s16le at ``rate`` (ffmpeg resamples)."""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(rate),
                           "-f", "s16le", "-"], check=True, capture_output=True).stdout


def render(out: Path, audio: Path, patterns: list[str], cuts: list[float], total: float, video: dict) -> None:
    """Encode ``audio`` under a picture that shows ``patterns[i]`` between cut i - 1 and cut i.

    Written under a temporary name and renamed, so a reader never sees half a file.
    """
    assert len(patterns) == len(cuts) + 1, (patterns, cuts)
    bounds = [0.0, *cuts, total]
    inputs, labels = [], []
    for i, pattern in enumerate(patterns):
        dur = bounds[i + 1] - bounds[i]
        inputs += ["-f", "lavfi", "-i", f"{pattern}=s={video['width']}x{video['height']}:r={video['fps']}:d={dur:.3f}"]
        labels.append(f"[{i}:v]")
    graph = "".join(labels) + f"concat=n={len(patterns)}:v=1:a=0,format=yuv420p[v]"
    tmp_out = out.with_name(f".{out.stem}.tmp.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-i", str(audio),
                    "-filter_complex", graph, "-map", "[v]", "-map", f"{len(patterns)}:a",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-g", str(2 * video["fps"]),
                    "-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-shortest", str(tmp_out)], check=True)
    tmp_out.replace(out)


def write_truth(path: Path, source: Path, duration: float, cuts: list[float], lines: list[dict],
                **extra) -> None:
    """The ground truth beside the video (atomically: the tests read it while others build)."""
    body = {"source": source.name, "duration": round(duration, 3), "scene_cuts": cuts, **extra, "lines": lines}
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
