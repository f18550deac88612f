"""Sound: two-pass EBU R128 loudness normalisation, and background music ducked under speech.

Pass one measures the clip's stretch of the source (audio only, two short ffmpeg runs); pass
two, inside the render, applies the gain that brings it to the target, with a
true-peak limiter for the peaks that gain would clip. loudnorm's own linear mode gives up
gain instead when peaks are high (speech often is: -16 for a -14 target, measured), and its
dynamic mode pumps on speech.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from ..config import RenderConfig
from ..media.ffmpeg import ffmpeg_command, run_ffmpeg

TRUE_PEAK = -1.5
LRA = 11.0


def _gain_chain(gain_db: float) -> str:
    return f"volume={gain_db:.2f}dB,alimiter=limit={10 ** (TRUE_PEAK / 20):.4f}:level=disabled"


# Gains tried above the plain one, in one pass: the limiter takes up to a few dB off peaky
# speech, and the gain that reaches the target is read off between two of them.
STEPS_DB = (0.0, 1.0, 2.0, 4.0)
_SUMMARY = re.compile(r"\[ebur128@m(\d+) @ [^\]]*\] Summary:\s*Integrated loudness:\s*I:\s*(-?[\d.]+|-?inf|nan) LUFS")


def levels_argv(source: Path, start: float, duration: float, gains: Sequence[float | None],
                track: int = 0) -> list[str]:
    """One audio-only pass: the integrated loudness (EBU R128) of the stretch after each gain
    (through the limiter; None: as it is). ebur128 without true peak, about a third of what
    loudnorm's measuring pass costs."""
    n = len(gains)
    head = f"[0:a:{track}]" + (f"asplit={n}" + "".join(f"[m{i}]" for i in range(n)) + ";" if n > 1 else "")
    chains = []
    for i, gain in enumerate(gains):
        pre = f"{_gain_chain(gain)}," if gain is not None else ""
        sink = "[out]" if i == 0 else ",anullsink"
        chains.append(f"{f'[m{i}]' if n > 1 else ''}{pre}ebur128@m{i}=framelog=verbose{sink}")
    return ffmpeg_command("-nostats", "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(source),
                          "-filter_complex", head + ";".join(chains), "-map", "[out]", "-f", "null", "-")


def _levels(source: Path, start: float, duration: float, gains: Sequence[float | None],
            track: int = 0) -> list[float | None]:
    stderr = run_ffmpeg(levels_argv(source, start, duration, gains, track), what="measuring loudness failed")
    found: dict[int, float | None] = {}
    for index, value in _SUMMARY.findall(stderr):   # the last summary of each: earlier ones are set-up's
        level = float(value)
        found[int(index)] = level if level == level and abs(level) != float("inf") and level > -70 else None
    return [found.get(i) for i in range(len(gains))]   # silence measures -70 (the gate) or -inf


def measure(source: Path, start: float, duration: float, target: float, track: int = 0) -> dict[str, float]:
    """The gain (dB) that brings this stretch to ``target`` LUFS through the limiter.

    Two audio-only passes: the stretch's own loudness, then the limited loudness at a few
    gains from the plain one up, read off where it crosses the target.
    """
    level = _levels(source, start, duration, [None], track)[0]
    if level is None:
        return {}
    gains = [target - level + step for step in STEPS_DB]
    limited = _levels(source, start, duration, gains, track)
    return {"input_i": level, "gain_db": round(gain_for(target, gains, limited), 2)}


def gain_for(target: float, gains: Sequence[float], limited: Sequence[float | None]) -> float:
    """The gain at which the limited loudness (measured at ``gains``; rising with the gain)
    reaches ``target``: linear between the two points around it, 1:1 past the ends."""
    points = [(g, v) for g, v in zip(gains, limited) if v is not None]
    if not points:
        return gains[0]
    for (g0, v0), (g1, v1) in zip(points, points[1:]):
        if v0 <= target <= v1 and v1 > v0:
            return g0 + (g1 - g0) * (target - v0) / (v1 - v0)
    g, v = points[0] if target < points[0][1] else points[-1]
    return g + (target - v)


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
