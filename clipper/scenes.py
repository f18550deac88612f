"""Scene cuts with PySceneDetect, only inside given windows (the one module importing scenedetect).

Decoding a whole 1080p stream costs about as much as transcribing it, and only cuts near a
clip edge matter, so the detector runs on short windows around candidate edges: each window
is entered ``LEAD`` seconds early so the detector has a frame to compare the first one with.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable, Sequence

from .config import ScenesConfig
from .errors import StageError
from .media.ffmpeg import media_path
from .types import Shots

log = logging.getLogger(__name__)

LEAD = 0.5
# OpenCV's own FFmpeg writes straight to the terminal ("File ended prematurely" on a damaged
# file, once per seek); clipper says what matters itself.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def detect_cuts(video_path: str | Path, windows: Sequence[tuple[float, float]], cfg: ScenesConfig,
                on_progress: Callable[[int, int], None] | None = None) -> Shots:
    if not cfg.enabled or not windows:
        return Shots(windows=tuple(windows), cuts=())
    from scenedetect import ContentDetector, SceneManager, open_video

    # PySceneDetect logs every detect_scenes call at INFO (one per window: noise). Set after
    # the import, which configures its logger.
    logging.getLogger("pyscenedetect").setLevel(logging.WARNING)

    try:
        video = open_video(media_path(video_path))  # OpenCV's FFmpeg would read "a:b.mp4" as a protocol
    except Exception as exc:  # noqa: BLE001 - any backend failure means "cannot decode"
        raise StageError(f"scene detection cannot open the video: {exc}", path=str(video_path)) from None
    fps = float(video.frame_rate)
    min_frames = max(1, int(round(cfg.min_scene_len * fps)))
    cuts: list[float] = []
    for n, (start, end) in enumerate(windows):
        manager = SceneManager()
        manager.auto_downscale = True
        manager.add_detector(ContentDetector(threshold=cfg.threshold, min_scene_len=min_frames))
        try:
            video.seek(max(0.0, start - LEAD))
            manager.detect_scenes(video, end_time=min(end + 1.0 / fps, _seconds(video.duration)))
        except Exception as exc:  # noqa: BLE001
            log.warning("scene detection failed in %.1f-%.1fs: %s", start, end, exc)
            continue
        scenes = manager.get_scene_list()
        for scene_start, _ in scenes[1:]:
            t = round(_seconds(scene_start), 3)
            if start - 1e-3 <= t <= end + 1e-3:
                cuts.append(t)
        if on_progress:
            on_progress(n + 1, len(windows))
    return Shots(windows=tuple(windows), cuts=tuple(sorted(set(cuts))))


def _seconds(tc) -> float:
    """FrameTimecode in seconds (``seconds`` since PySceneDetect 0.7, ``get_seconds()`` before)."""
    value = getattr(type(tc), "seconds", None)
    return float(tc.seconds) if isinstance(value, property) else float(tc.get_seconds())
