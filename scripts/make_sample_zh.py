#!/usr/bin/env python3
"""Build the Mandarin sample livestream and its ground truth.

Two hosts (a woman and a man, Kokoro-82M voices, see ``kokoro_zh.py``) speak the lines of
``sample_media/script_zh.json``: greetings, three apparel products with their deals, one
product taken up without any "next product" phrase, and goodbyes. The picture is a sequence of
ffmpeg test patterns that changes where the script says the camera cuts — inside sentences and
off-centre in pauses, never on a sentence end, as a live director cuts.

Writes ``sample_media/sample_stream_zh.mp4`` and ``sample_media/sample_stream_zh.truth.json``
(the English sample's truth format: every line with its label, tags, product, start/end in
seconds, and the pauses inside it where the voice breathes at a comma; plus the scene cuts, the
duration, the voices and the products taken up silently).
Idempotent: skipped when both outputs are newer than the script and this generator; each
line's speech is kept in ``sample_media/.build/zh/`` so an edit re-speaks only what changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import kokoro_zh
from sample_common import PATTERNS, Track, is_fresh, pauses, render, write_truth

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "sample_media" / "script_zh.json"
OUT = ROOT / "sample_media" / "sample_stream_zh.mp4"
TRUTH = ROOT / "sample_media" / "sample_stream_zh.truth.json"
CACHE = ROOT / "sample_media" / ".build" / "zh"
GENERATORS = [Path(__file__).resolve(), Path(kokoro_zh.__file__).resolve(), ROOT / "scripts" / "sample_common.py"]
RATE = kokoro_zh.RATE
LEAD = 1.0
LINE_GAP = 0.55       # between sentences of one passage: longer than a comma's pause in the voice
PASSAGE_GAP = 1.2     # between passages: what the recogniser and the planner see as a break


def _speech_key(text: str, voice: str, speed: float) -> str:
    """Everything that changes a line's sound: its text, the voice file, the speed, the G2P
    and the synthesis code itself."""
    import misaki

    code = hashlib.sha256(Path(kokoro_zh.__file__).read_bytes()).hexdigest()
    blob = json.dumps([text, voice, speed, kokoro_zh.VOICE_SHA256[voice], misaki.__version__, code])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class Speaker:
    """Kokoro, loaded on the first line that is not in the cache (a warm rebuild needs no model)."""

    def __init__(self):
        self.tts = None
        self.used: set[Path] = set()

    def pcm(self, text: str, voice: str, speed: float) -> bytes:
        cached = CACHE / f"{_speech_key(text, voice, speed)}.pcm"
        self.used.add(cached)
        if not cached.is_file():
            if self.tts is None:
                print("make_sample_zh: speaking the script with Kokoro-82M (a minute or two on 2 cores; "
                      "lines are cached)…", file=sys.stderr)
                self.tts = kokoro_zh.Kokoro()
            audio = self.tts.speak(text, voice, speed)
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes((audio.clip(-1.0, 1.0) * 32767).astype("<i2").tobytes())
            tmp.replace(cached)
        return cached.read_bytes()


def lay_out(script: dict, speaker: Speaker) -> tuple[Track, list[dict], list[tuple[str, float]]]:
    """The sound track, the truth lines, and the camera cuts as (scene, seconds)."""
    track = Track(RATE)
    track.pause(LEAD)
    lines, cuts = [], []
    for p_index, passage in enumerate(script["passages"]):
        for l_index, line in enumerate(passage["lines"]):
            gap_start = track.now
            if p_index or l_index:
                track.pause(LINE_GAP if l_index else PASSAGE_GAP)
            who = line.get("voice", passage["voice"])
            voice = script["voices"][who]
            pcm = speaker.pcm(line["text"], voice["voice"], voice["speed"])
            start, end = track.add(pcm)
            cut = line.get("cut")
            if cut:
                at = gap_start + cut["gap"] * (start - gap_start) if "gap" in cut else start + cut["at"] * (end - start)
                cuts.append((cut["scene"], round(at, 2)))
            lines.append({"text": line["text"], "label": line["label"], "tags": line.get("tags", []),
                          "product": passage["product"], "passage": p_index, "speaker": who,
                          "voice": voice["voice"], "start": round(start, 3), "end": round(end, 3),
                          "pauses": pauses(pcm, RATE, start)})
    track.pause(2.0)  # a short last line right before the end of the file is easy for Whisper to drop
    return track, lines, cuts


def check(script: dict, lines: list[dict], cuts: list[tuple[str, float]]) -> None:
    """The script's promises, checked on what was built: a cut is never within 0.15 s of a
    sentence's end, every tag is in the apparel vocabulary, and each voice speaks."""
    import tomllib

    # "other" is every category's fallback tag (a product named without a quality).
    vocab = set(tomllib.loads((ROOT / "configs" / "categories" / "apparel.toml").read_text())["tags"]) | {"other"}
    for line in lines:
        bad = set(line["tags"]) - vocab
        assert not bad, f"tags {bad} are not in the apparel vocabulary: {line['text']}"
        assert line["tags"] or line["label"] != "SELLING_POINT", f"a selling point without tags: {line['text']}"
    for scene, t in cuts:
        near = [ln["text"] for ln in lines if abs(ln["end"] - t) < 0.15 or abs(ln["start"] - t) < 0.15]
        assert not near, f"the cut to {scene} at {t}s falls on a sentence edge: {near}"
    assert {ln["speaker"] for ln in lines} == set(script["voices"]), "every voice speaks"


def build(force: bool = False) -> Path:
    if not force and is_fresh([OUT, TRUTH], [SCRIPT, *GENERATORS]):
        return OUT
    if shutil.which("ffmpeg") is None:
        sys.exit("make_sample_zh: ffmpeg is not installed")
    script = json.loads(SCRIPT.read_text(encoding="utf-8"))
    speaker = Speaker()
    track, lines, cuts = lay_out(script, speaker)
    check(script, lines, cuts)
    for stale in set(CACHE.glob("*.pcm")) - speaker.used:  # lines edited out of the script
        stale.unlink()
    # Every scene its own pattern, so each camera cut is a visible hard cut.
    scenes = [script["scene"], *(scene for scene, _ in cuts)]
    names = list(dict.fromkeys(scenes))
    patterns = [PATTERNS[names.index(name) % len(PATTERNS)] for name in scenes]
    cut_times = [t for _, t in cuts]
    with tempfile.TemporaryDirectory() as tmp:
        audio = Path(tmp) / "speech.wav"
        track.write_wav(audio)
        render(OUT, audio, patterns, cut_times, track.now, script["video"])
    silent = [p["product"] for p in script["passages"] if p.get("switch") == "silent"]
    write_truth(TRUTH, OUT, track.now, cut_times, lines, language="zh",
                voices={k: v["voice"] for k, v in script["voices"].items()}, silent_switches=silent)
    return OUT


if __name__ == "__main__":
    try:
        print(build(force="--force" in sys.argv))
    except kokoro_zh.VoiceError as exc:
        sys.exit(f"make_sample_zh: {exc}")
