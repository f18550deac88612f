#!/usr/bin/env python3
"""Build the synthetic sample livestream and its ground truth.

espeak-ng speaks each line of ``sample_media/script.json``; the lines are laid out with
short pauses inside a passage and longer ones between passages; the picture is a sequence of
ffmpeg test patterns, a different one per scene, so the video has hard cuts at known times.
Writes ``sample_media/sample_stream.mp4`` and ``sample_media/sample_stream.truth.json``
(every line with its label, tags, product and start/end in seconds). Idempotent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sample_media" / "script.json"
OUT = ROOT / "sample_media" / "sample_stream.mp4"
TRUTH = ROOT / "sample_media" / "sample_stream.truth.json"
RATE = 16000
LINE_GAP = 0.45
PASSAGE_GAP = 1.6
LEAD = 1.0
# Test-pattern sources for the scenes, one per scene name in order of first use.
PATTERNS = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "pal100bars", "yuvtestsrc", "smptebars"]


def speak(text: str, voice: str, wpm: int, dest: Path) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(dest), text], check=True)


def read_pcm(path: Path) -> bytes:
    """espeak-ng writes 22.05 kHz; resample to 16 kHz mono s16 with ffmpeg."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(RATE),
                          "-f", "s16le", "-"], check=True, capture_output=True).stdout
    return out


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(round(seconds * RATE))


def build(force: bool = False) -> Path:
    if OUT.exists() and TRUTH.exists() and not force and OUT.stat().st_mtime > SCRIPT.stat().st_mtime:
        return OUT
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            sys.exit(f"make_sample: {tool} is not installed")
    script = json.loads(SCRIPT.read_text())
    pcm = bytearray(silence(LEAD))
    truth_lines, scenes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for p_index, passage in enumerate(script["passages"]):
            if p_index:
                pcm += silence(PASSAGE_GAP)
            scene_start = len(pcm) / 2 / RATE if p_index else 0.0
            for l_index, line in enumerate(passage["lines"]):
                if l_index:
                    pcm += silence(LINE_GAP)
                wav = Path(tmp) / f"{p_index}_{l_index}.wav"
                speak(line["text"], script["voice"], script["words_per_minute"], wav)
                audio = read_pcm(wav)
                start = len(pcm) / 2 / RATE
                pcm += audio
                truth_lines.append({"text": line["text"], "label": line["label"], "tags": line.get("tags", []),
                                    "product": passage["product"], "passage": p_index,
                                    "start": round(start, 3), "end": round(len(pcm) / 2 / RATE, 3)})
            scenes.append((passage["scene"], scene_start))
        pcm += silence(1.0)
        total = len(pcm) / 2 / RATE
        audio_path = Path(tmp) / "speech.wav"
        with wave.open(str(audio_path), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(RATE)
            wf.writeframes(bytes(pcm))
        # Scene cuts halfway through each inter-passage silence, so edges can snap to them.
        cut_times = []
        for i in range(1, len(scenes)):
            prev_end = max(l["end"] for l in truth_lines if l["passage"] == i - 1)
            next_start = min(l["start"] for l in truth_lines if l["passage"] == i)
            cut_times.append(round((prev_end + next_start) / 2, 2))
        bounds = [0.0, *cut_times, total]
        v = script["video"]
        names = list(dict.fromkeys(name.split("_")[0] for name, _ in scenes))
        inputs, labels = [], []
        for i, (name, _) in enumerate(scenes):
            pattern = PATTERNS[names.index(name.split("_")[0]) % len(PATTERNS)]
            dur = bounds[i + 1] - bounds[i]
            inputs += ["-f", "lavfi", "-i", f"{pattern}=s={v['width']}x{v['height']}:r={v['fps']}:d={dur:.3f}"]
            labels.append(f"[{i}:v]")
        graph = "".join(labels) + f"concat=n={len(scenes)}:v=1:a=0,format=yuv420p[v]"
        tmp_out = OUT.with_name(".sample_stream.tmp.mp4")
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-i", str(audio_path),
                        "-filter_complex", graph, "-map", "[v]", "-map", f"{len(scenes)}:a",
                        "-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-g", str(2 * v["fps"]),
                        "-c:a", "aac", "-b:a", "64k", "-ar", "44100", "-shortest", str(tmp_out)], check=True)
        tmp_out.replace(OUT)
    TRUTH.write_text(json.dumps({"source": OUT.name, "duration": round(total, 3), "scene_cuts": cut_times,
                                 "lines": truth_lines}, indent=2) + "\n")
    return OUT


if __name__ == "__main__":
    print(build(force="--force" in sys.argv))
