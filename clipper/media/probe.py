"""Probe a source: duration, streams, rotation. Clear errors for what cannot be clipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import FFmpegError, IncompleteMediaError, MediaNotFoundError, NoAudioError, NotMediaError
from ..types import MediaInfo
from .ffmpeg import ffprobe_json

# Container formats ffprobe "opens" that are not audio/video recordings.
_NOT_MEDIA_FORMATS = {"tty", "image2", "png_pipe", "jpeg_pipe", "webp_pipe", "gif", "svg_pipe", "bmp_pipe"}


def probe(path: str | Path) -> MediaInfo:
    path = Path(path)
    if not path.exists():
        raise MediaNotFoundError(path)
    if not path.is_file():
        raise NotMediaError("not a file", path=str(path))
    if path.stat().st_size == 0:
        raise NotMediaError("file is empty", path=str(path))
    try:
        data = ffprobe_json(path)
    except FFmpegError as exc:
        if "moov atom not found" in exc.stderr and _starts_like_mp4(path):
            raise IncompleteMediaError("an MP4 without its index (moov atom not found): the recording was cut "
                                       "off or is still being written; only a finished MP4 can be read",
                                       path=str(path)) from None
        raise NotMediaError(f"not a readable audio/video file ({exc.message})", path=str(path)) from None
    return media_info_from_probe(path, data)


def _starts_like_mp4(path: Path) -> bool:
    """Does the file open with an MP4/MOV box (``ftyp``, ``free``, ``mdat``...)? Then a missing
    index means a cut-off recording, not some other file that happens to end in .mp4."""
    with path.open("rb") as fh:
        head = fh.read(12)
    return head[4:8] in (b"ftyp", b"free", b"mdat", b"wide", b"skip", b"moov")


def media_info_from_probe(path: Path, data: dict[str, Any]) -> MediaInfo:
    """Pure: ffprobe JSON -> MediaInfo (raises NotMediaError when it is no recording)."""
    fmt = data.get("format", {})
    streams = data.get("streams", [])
    video = next((s for s in streams if s.get("codec_type") == "video"
                  and not s.get("disposition", {}).get("attached_pic")), None)
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    # The track flagged default (what a player plays), else the first.
    track = next((i for i, s in enumerate(audios) if (s.get("disposition") or {}).get("default")), 0)
    audio = audios[track] if audios else None
    format_name = fmt.get("format_name", "")
    if (video is None and audio is None) or format_name in _NOT_MEDIA_FORMATS:
        raise NotMediaError("no audio or video stream (not a recording)", path=str(path))
    duration = _float(fmt.get("duration")) or max(
        (_float(s.get("duration")) for s in streams), default=0.0)
    if duration <= 0:
        raise NotMediaError("duration unknown or zero (damaged, or still being written?)", path=str(path))

    width = height = rotation = 0
    fps = video_start = video_end = 0.0
    if video is not None:
        video_start, video_end = _span(video, _float(fmt.get("start_time")))
        width, height = int(video.get("width") or 0), int(video.get("height") or 0)
        rotation = _rotation(video)
        if rotation in (90, 270):
            width, height = height, width  # ffmpeg auto-rotates on decode: display size
        fps = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate"))
    return MediaInfo(
        path=str(path), duration=duration, size_bytes=int(fmt.get("size") or path.stat().st_size),
        format_name=format_name, has_video=video is not None, has_audio=audio is not None,
        width=width, height=height, rotation=rotation, fps=fps,
        video_codec=(video or {}).get("codec_name", ""), audio_codec=(audio or {}).get("codec_name", ""),
        sample_rate=int((audio or {}).get("sample_rate") or 0), channels=int((audio or {}).get("channels") or 0),
        audio_track=track if audios else 0, audio_tracks=len(audios),
        video_start=video_start, video_end=video_end,
    )


def _span(stream: dict[str, Any], file_start: float) -> tuple[float, float]:
    """(start, end) of a stream in seconds from the file's start; (0, 0) when unknown."""
    duration = _float(stream.get("duration")) or _clock(str((stream.get("tags") or {}).get("DURATION", "")))
    if duration <= 0:
        return 0.0, 0.0
    start = max(0.0, _float(stream.get("start_time")) - file_start)
    return round(start, 3), round(start + duration, 3)


def _clock(value: str) -> float:
    """Seconds of an "HH:MM:SS.fffffffff" tag (Matroska's per-stream DURATION); 0 if none."""
    parts = value.strip().split(":")
    try:
        return sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts))) if len(parts) == 3 else 0.0
    except ValueError:
        return 0.0


def require_audio(info: MediaInfo) -> None:
    if not info.has_audio:
        raise NoAudioError("has no audio track: there is no speech to clip", path=info.path)


def _rotation(stream: dict[str, Any]) -> int:
    rot = 0.0
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            rot = float(side["rotation"])
    if not rot and "rotate" in stream.get("tags", {}):
        rot = -float(stream["tags"]["rotate"])  # legacy tag is clockwise, side data counter-clockwise
    return int(round(rot)) % 360


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _rate(value: Any) -> float:
    if not value or value == "0/0":
        return 0.0
    num, _, den = str(value).partition("/")
    try:
        return float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return 0.0
