"""ffmpeg argv for one clip (pure): input seek, filter graph, H.264 + AAC, faststart MP4
carrying the implicit AI label (``aigc.py``)."""

from __future__ import annotations

import re
from pathlib import Path

from ..config import RenderConfig
from ..media.ffmpeg import ffmpeg_command
from ..types import MediaInfo
from .aigc import mp4_metadata_argv
from .aigc import produce_id as make_produce_id
from .audio import audio_graph
from .encoder import video_codec_argv
from .layout import video_graph


def render_argv(info: MediaInfo, start: float, duration: float, cfg: RenderConfig, output: Path,
                *, subtitles: bool = True, title: str = "", loudness: dict[str, float] | None = None,
                crop_x: str | None = None, produce_id: str = "", seek: bool = True,
                cover: tuple[float, Path] | None = None) -> list[str]:
    """``cover`` = (seconds, path): also write that frame of the finished picture as a JPEG,
    from the same decode (a second ffmpeg would decode the clip again).
    ``produce_id``: the clip's ProduceID in the AIGC label (``aigc.clip_produce_id``); when
    not given, one is derived from the source path and the stretch, so a label is never empty.
    ``seek=False`` decodes the source from its start and cuts inside the graph: for a damaged
    file that cannot be seeked into (a truncated MKV has no index)."""
    # -ss before -i seeks on the input: a clip near the end of a 3-hour file decodes only
    # from the nearest keyframe, and with re-encoding the cut is still frame-accurate.
    span = ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}"] if seek else ["-t", f"{start + duration:.3f}"]
    argv = ffmpeg_command(*span, "-i", str(Path(info.path).resolve()))
    n_inputs = 1
    if not info.has_video:
        argv += ["-f", "lavfi", "-t", f"{duration:.3f}",
                 "-i", f"color=c={cfg.background}:s={cfg.width}x{cfg.height}:r={cfg.fps:g}"]
        n_inputs += 1
    logo_input = music_input = None
    if cfg.logo:
        argv += ["-i", str(Path(cfg.logo).expanduser().resolve())]
        logo_input, n_inputs = n_inputs, n_inputs + 1
    if cfg.music:
        argv += ["-stream_loop", "-1", "-i", str(Path(cfg.music).expanduser().resolve())]
        music_input, n_inputs = n_inputs, n_inputs + 1
    graph = ";".join([video_graph(cfg, has_video=info.has_video, subtitles=subtitles, logo_input=logo_input,
                                  crop_x=crop_x, source_fps=info.fps),
                      audio_graph(cfg, loudness, music_input, info.audio_track)])
    if not seek:
        graph = _cut_in_graph(graph, start)
    if cover is not None:
        # trim's end discards every later frame, so the branch never holds frames back.
        at = cover[0]
        graph = graph.replace("[v]", "[picture]", 1) + (
            f";[picture]split=2[v][c];[c]trim=start={at:.3f}:end={at + 1:.3f},setpts=PTS-STARTPTS[cover]")
    argv += ["-filter_complex", graph]
    if cover is not None:
        # -update 1: one image, its name taken as it is (image2 would read "%d" in it as a pattern).
        argv += ["-map", "[cover]", "-frames:v", "1", "-q:v", "3", "-f", "image2", "-update", "1", str(cover[1])]
    argv += ["-map", "[v]", "-map", "[a]",
             *video_codec_argv(cfg),
             "-c:a", "aac", "-b:a", cfg.audio_bitrate, "-ar", str(cfg.audio_rate), "-ac", "2",
             "-t", f"{duration:.3f}"]
    argv += mp4_metadata_argv(cfg, produce_id or make_produce_id("argv", info.path, f"{start:.3f}", f"{duration:.3f}"))
    if title:
        argv += ["-metadata", f"title={title}"]
    argv += ["-f", "mp4", str(output)]
    return argv


def _cut_in_graph(graph: str, start: float) -> str:
    """The source's streams trimmed to start at ``start`` where they enter the graph."""
    graph = graph.replace("[0:v]", f"[0:v]trim=start={start:.3f},setpts=PTS-STARTPTS,")
    return re.sub(r"\[0:a(?::\d+)?\]", lambda m: f"{m.group(0)}atrim=start={start:.3f},asetpts=PTS-STARTPTS,", graph)
