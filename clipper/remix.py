"""Remix (混剪): chosen clips from one or more runs' manifests, joined into one video.

Built as one FFmpeg filter graph rather than with MoviePy: the clips are already rendered
(subtitles burned in), so the job is decode, cross-fade, encode — one ffmpeg pass does it at
encoder speed, where MoviePy would pull every frame through Python. Cross-fades (xfade,
acrossfade), optional intro/outro cards (text through libass, so CJK works), a ducked
music bed and the implicit AI label (``render/aigc.py``) with the remix's own ProduceID.
Subtitles stay in sync because they are part of each clip's picture; the remix's
own .srt is the clips' .srt files shifted to their place in the timeline.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pysubs2

from .config import Config
from .errors import ConfigError, RenderError
from .media.ffmpeg import ffmpeg_command, filter_arg, run_ffmpeg
from .media.probe import probe
from .render.aigc import aigc_label, mp4_metadata_argv, produce_id, remix_produce_id
from .render.audio import music_bed
from .render.encoder import video_codec_argv
from .render.fonts import check_coverage
from .render.subtitles import ass_text, read_srt, write_srt
from .workspace import write_json_atomic

log = logging.getLogger(__name__)
CARD_SECONDS = 2.0


@dataclass(frozen=True)
class Pick:
    manifest: Path
    id: str
    file: Path
    subtitles: Path | None
    duration: float
    tags: tuple[str, ...]
    kind: str
    product: int | None
    text: str
    produce_id: str = ""      # the clip's ProduceID (its AIGC label), for the remix's own


def select(manifests: Sequence[Path], tags: Sequence[str] = (), kinds: Sequence[str] = (),
           product: int | None = None, best_only: bool = False, max_seconds: float = 0.0,
           transition: float = 0.0) -> list[Pick]:
    """Clips matching every filter, in manifest order, until ``max_seconds`` (after transitions)."""
    picks: list[Pick] = []
    total = 0.0
    for path in manifests:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"not a readable manifest ({exc})", path=str(path)) from None
        root = Path(path).parent
        for clip in data.get("clips", []):
            if tags and not set(tags) & set(clip.get("tags", [])):
                continue
            if kinds and clip.get("kind") not in kinds:
                continue
            if product is not None and clip.get("product") != product:
                continue
            if best_only and clip.get("best_take") is False:
                continue
            duration = float(clip.get("duration") or clip["end"] - clip["start"])
            added = duration - (transition if picks else 0.0)
            if max_seconds and total + added > max_seconds:
                continue
            srt = root / clip["subtitles"] if clip.get("subtitles") else None
            # A manifest written before the label (or with it off) has none: name the clip by
            # its source and stretch instead, so the remix's ProduceID is still stable.
            pid = (clip.get("aigc") or {}).get("ProduceID") or produce_id(
                "manifest-clip", data.get("source", {}).get("path", ""), clip["id"], clip["start"], clip["end"])
            picks.append(Pick(Path(path), clip["id"], root / clip["file"], srt if srt and srt.is_file() else None,
                              duration, tuple(clip.get("tags", [])), clip.get("kind", ""), clip.get("product"),
                              clip.get("text", ""), pid))
            total += added
    return picks


def _card(text: str, cfg: Config, path: Path) -> None:
    r = cfg.render
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = str(r.width), str(r.height)
    subs.styles["Default"] = pysubs2.SSAStyle(fontname=r.font, fontsize=r.title_size, bold=True, outline=0,
                                              alignment=pysubs2.Alignment.MIDDLE_CENTER,
                                              marginl=r.margin_h, marginr=r.margin_h)
    subs.append(pysubs2.SSAEvent(start=0, end=int(CARD_SECONDS * 1000), text=ass_text(text)))
    subs.save(str(path))


def remix_argv(inputs: list[tuple[str, float]], cfg: Config, transition: float, output: Path,
               music: str = "", content_id: str = "") -> list[str]:
    """(input spec, duration) per segment -> argv. A spec is a file path or "card:<ass file>".
    ``content_id``: the remix's ProduceID in its AIGC label (``remix_produce_id``)."""
    r = cfg.render
    argv = ffmpeg_command()
    for spec, duration in inputs:
        if spec.startswith("card:"):
            argv += ["-f", "lavfi", "-t", f"{duration:.3f}", "-i",
                     f"color=c={r.background}:s={r.width}x{r.height}:r={r.fps:g}",
                     "-f", "lavfi", "-t", f"{duration:.3f}", "-i", f"anullsrc=r={r.audio_rate}:cl=stereo"]
        else:
            argv += ["-i", spec]
    parts, v_labels, a_labels, index = [], [], [], 0
    for n, (spec, _) in enumerate(inputs):
        norm = (f"fps={r.fps:g},scale={r.width}:{r.height}:force_original_aspect_ratio=decrease:"
                f"force_divisible_by=2,pad={r.width}:{r.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
                "settb=AVTB")
        if spec.startswith("card:"):
            parts.append(f"[{index}:v]{norm},subtitles=f={filter_arg(spec[5:])}[v{n}]")
            parts.append(f"[{index + 1}:a]aresample={r.audio_rate},aformat=channel_layouts=stereo[a{n}]")
            index += 2
        else:
            parts.append(f"[{index}:v]{norm}[v{n}]")
            parts.append(f"[{index}:a]aresample={r.audio_rate},aformat=channel_layouts=stereo[a{n}]")
            index += 1
        v_labels.append(f"v{n}")
        a_labels.append(f"a{n}")
    v, a, offset = v_labels[0], a_labels[0], inputs[0][1]
    for n in range(1, len(inputs)):
        if transition > 0:
            offset -= transition
            parts.append(f"[{v}][{v_labels[n]}]xfade=transition=fade:duration={transition:g}:offset={offset:.3f}[vx{n}]")
            parts.append(f"[{a}][{a_labels[n]}]acrossfade=d={transition:g}[ax{n}]")
        else:
            parts.append(f"[{v}][{a}][{v_labels[n]}][{a_labels[n]}]concat=n=2:v=1:a=1[vx{n}][ax{n}]")
        v, a = f"vx{n}", f"ax{n}"
        offset += inputs[n][1]
    if music:
        argv += ["-stream_loop", "-1", "-i", music]
        parts.append(f"[{a}]anull" + music_bed(r, index, "aout"))
        a = "aout"
    argv += ["-filter_complex", ";".join(parts), "-map", f"[{v}]", "-map", f"[{a}]",
             *video_codec_argv(r),
             "-c:a", "aac", "-b:a", r.audio_bitrate]
    argv += mp4_metadata_argv(r, content_id or produce_id("remix-argv", [spec for spec, _ in inputs], transition))
    argv += ["-f", "mp4", str(output)]
    return argv


def remix(picks: Sequence[Pick], cfg: Config, output: Path, transition: float = 0.5, intro: str = "",
          outro: str = "", music: str = "") -> dict:
    if not picks:
        raise ConfigError("no clip matches the filters: nothing to remix")
    segments: list[tuple[str, float]] = []
    timeline: list[dict] = []
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".remix.", dir=output.parent) as tmp_name:
        tmp = Path(tmp_name)
        for name, text in (("intro", intro), ("outro", outro)):
            if text:
                check_coverage(text, cfg.render.font)
                _card(text, cfg, tmp / f"{name}.ass")
        if intro:
            segments.append(("card:intro.ass", CARD_SECONDS))
        segments += [(str(p.file.resolve()), p.duration) for p in picks]
        if outro:
            segments.append(("card:outro.ass", CARD_SECONDS))
        # Where each segment starts in the remix: transitions overlap neighbours.
        starts, t = [], 0.0
        for _, duration in segments:
            starts.append(t)
            t += duration - transition
        expected = t + transition
        first_clip = 1 if intro else 0
        cues: list[tuple[float, float, str]] = []
        for pick, start in zip(picks, starts[first_clip:]):
            timeline.append({"manifest": str(pick.manifest), "id": pick.id, "file": str(pick.file),
                             "start": round(start, 3), "duration": pick.duration, "tags": list(pick.tags),
                             "kind": pick.kind, "product": pick.product, "text": pick.text})
            if pick.subtitles:
                try:
                    cues += [(start + a, start + b, text) for a, b, text in read_srt(pick.subtitles)]
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"unreadable subtitles ({exc})", path=str(pick.subtitles)) from None
        tmp_out = tmp / "remix.mp4"
        # Stable for the same clips in the same order with the same cards, fade and music.
        content_id = remix_produce_id([p.produce_id for p in picks], transition, intro, outro,
                                      Path(music).name if music else "")
        run_ffmpeg(remix_argv(segments, cfg, transition, tmp_out, music=music, content_id=content_id),
                   cwd=tmp, what="remix failed")
        got = probe(tmp_out)
        if abs(got.duration - expected) > max(0.3, 0.02 * expected):
            raise RenderError(f"remix came out {got.duration:.2f}s, expected {expected:.2f}s")
        srt = output.with_suffix(".srt")
        write_srt(cues, tmp / "remix.srt")
        os.replace(tmp / "remix.srt", srt)
        os.replace(tmp_out, output)
    manifest = {"version": 1, "kind": "remix", "file": output.name, "subtitles": srt.name,
                "duration": round(got.duration, 3), "width": got.width, "height": got.height,
                "transition": transition, "intro": intro or None, "outro": outro or None,
                "aigc": json.loads(aigc_label(cfg.render, content_id)) if cfg.render.aigc_label else None,
                "clips": timeline}
    write_json_atomic(output.with_suffix(".json"), manifest)
    return manifest
