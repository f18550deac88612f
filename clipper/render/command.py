"""ffmpeg argv for one clip (pure): input seek, filter graph, H.264 + AAC, faststart MP4."""

from __future__ import annotations

from pathlib import Path

from ..config import RenderConfig
from ..types import MediaInfo
from .layout import video_graph


def render_argv(info: MediaInfo, start: float, duration: float, cfg: RenderConfig, output: Path,
                *, subtitles: bool = True, title: str = "") -> list[str]:
    # -ss before -i seeks on the input: a clip near the end of a 3-hour file decodes only
    # from the nearest keyframe, and with re-encoding the cut is still frame-accurate.
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y",
            "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(Path(info.path).resolve())]
    if not info.has_video:
        argv += ["-f", "lavfi", "-t", f"{duration:.3f}",
                 "-i", f"color=c={cfg.background}:s={cfg.width}x{cfg.height}:r={cfg.fps:g}"]
    argv += ["-filter_complex", video_graph(cfg, has_video=info.has_video, subtitles=subtitles),
             "-map", "[v]", "-map", "0:a:0",
             "-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf), "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", cfg.audio_bitrate, "-ar", str(cfg.audio_rate), "-ac", "2",
             # Resample against timestamps so variable-frame-rate sources do not drift.
             "-af", "aresample=async=1:first_pts=0",
             "-t", f"{duration:.3f}", "-movflags", "+faststart"]
    if title:
        argv += ["-metadata", f"title={title}"]
    argv += ["-f", "mp4", str(output)]
    return argv
