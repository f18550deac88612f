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
from pathlib import Path

from sample_common import PATTERNS, Track, pcm_from_file, render, write_truth

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sample_media" / "script.json"
OUT = ROOT / "sample_media" / "sample_stream.mp4"
TRUTH = ROOT / "sample_media" / "sample_stream.truth.json"
RATE = 16000
LINE_GAP = 0.45
PASSAGE_GAP = 1.6
LEAD = 1.0


def speak(text: str, voice: str, wpm: int, dest: Path) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(dest), text], check=True)


def build(force: bool = False) -> Path:
    if OUT.exists() and TRUTH.exists() and not force and OUT.stat().st_mtime > SCRIPT.stat().st_mtime:
        return OUT
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            sys.exit(f"make_sample: {tool} is not installed")
    script = json.loads(SCRIPT.read_text())
    track = Track(RATE)
    track.pause(LEAD)
    truth_lines, scenes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for p_index, passage in enumerate(script["passages"]):
            if p_index:
                track.pause(PASSAGE_GAP)
            for l_index, line in enumerate(passage["lines"]):
                if l_index:
                    track.pause(LINE_GAP)
                wav = Path(tmp) / f"{p_index}_{l_index}.wav"
                speak(line["text"], script["voice"], script["words_per_minute"], wav)
                # espeak-ng writes 22.05 kHz; the track is 16 kHz.
                start, end = track.add(pcm_from_file(wav, RATE))
                truth_lines.append({"text": line["text"], "label": line["label"], "tags": line.get("tags", []),
                                    "product": passage["product"], "passage": p_index,
                                    "start": round(start, 3), "end": round(end, 3)})
            scenes.append(passage["scene"])
        track.pause(1.0)
        total = track.now
        audio_path = Path(tmp) / "speech.wav"
        track.write_wav(audio_path)
        # Scene cuts halfway through each inter-passage silence, so edges can snap to them.
        cut_times = []
        for i in range(1, len(scenes)):
            prev_end = max(l["end"] for l in truth_lines if l["passage"] == i - 1)
            next_start = min(l["start"] for l in truth_lines if l["passage"] == i)
            cut_times.append(round((prev_end + next_start) / 2, 2))
        # One pattern per scene family: "shirt" and "shirt_price" share one.
        names = list(dict.fromkeys(name.split("_")[0] for name in scenes))
        patterns = [PATTERNS[names.index(name.split("_")[0]) % len(PATTERNS)] for name in scenes]
        render(OUT, audio_path, patterns, cut_times, total, script["video"])
    write_truth(TRUTH, OUT, total, cut_times, truth_lines)
    return OUT


if __name__ == "__main__":
    print(build(force="--force" in sys.argv))
