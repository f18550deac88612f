"""Sound: two-pass EBU R128 loudness normalisation, and background music ducked under speech.

Pass one measures the clip's stretch of the source (audio only: a fraction of a second of
work); pass two, inside the render, applies the gain that brings it to the target, with a
true-peak limiter for the peaks that gain would clip. loudnorm's own linear mode gives up
gain instead when peaks are high (speech often is: -16 for a -14 target, measured), and its
dynamic mode pumps on speech.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import RenderConfig
from ..media.ffmpeg import ffmpeg_command, run_ffmpeg

TRUE_PEAK = -1.5
LRA = 11.0


def _gain_chain(gain_db: float) -> str:
    return f"volume={gain_db:.2f}dB,alimiter=limit={10 ** (TRUE_PEAK / 20):.4f}:level=disabled"


def measure_argv(source: Path, start: float, duration: float, target: float, gain_db: float | None = None,
                 track: int = 0) -> list[str]:
    pre = f"{_gain_chain(gain_db)}," if gain_db is not None else ""
    return ffmpeg_command("-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(source),
                          "-map", f"0:a:{track}", "-vn",
                          "-af", f"{pre}loudnorm=I={target:g}:TP={TRUE_PEAK:g}:LRA={LRA:g}:print_format=json",
                          "-f", "null", "-")


def _integrated(source: Path, start: float, duration: float, target: float, gain_db: float | None,
                track: int = 0) -> float | None:
    stderr = run_ffmpeg(measure_argv(source, start, duration, target, gain_db, track),
                        what="measuring loudness failed")
    found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if not found:
        return None
    value = float(json.loads(found[-1])["input_i"])
    return value if value == value and abs(value) != float("inf") else None  # silence measures -inf


def measure(source: Path, start: float, duration: float, target: float, track: int = 0) -> dict[str, float]:
    """The gain (dB) that brings this stretch to ``target`` LUFS through the limiter.

    The limiter takes some loudness off peaky speech, so the gain is checked on the limited
    signal and corrected, at most twice (each an audio-only pass: a fraction of a second).
    """
    level = _integrated(source, start, duration, target, None, track)
    if level is None:
        return {}
    gain = target - level
    for _ in range(2):
        got = _integrated(source, start, duration, target, gain, track)
        if got is None or abs(got - target) < 0.3:
            break
        gain += target - got
    return {"input_i": level, "gain_db": round(gain, 2)}


def audio_graph(cfg: RenderConfig, measured: dict[str, float] | None, music_input: int | None,
                track: int = 0) -> str:
    """From [0:a:track] to [a]: loudness, then the ducked music bed if any."""
    source = f"[0:a:{track}]" if track else "[0:a]"
    chain = source + "aresample=async=1:first_pts=0"  # against timestamps: no drift on variable-rate sources
    if cfg.loudness and measured:
        chain += "," + _gain_chain(measured["gain_db"])
    chain += f",aresample={cfg.audio_rate},aformat=channel_layouts=stereo"
    if music_input is None:
        return chain + "[a]"
    return chain + music_bed(cfg, music_input, "a")


def music_bed(cfg: RenderConfig, music_input: int, out: str) -> str:
    """Appended to a voice chain: the music of input ``music_input`` under it, ducked while
    the voice speaks, into ``[out]`` (clips and remixes share it)."""
    return (",asplit=2[voice][key];"
            f"[{music_input}:a]aresample={cfg.audio_rate},aformat=channel_layouts=stereo,"
            f"volume={cfg.music_volume:g}[bed];"
            "[bed][key]sidechaincompress=threshold=0.03:ratio=8:attack=30:release=500[ducked];"
            f"[voice][ducked]amix=inputs=2:duration=first:normalize=0[{out}]")
