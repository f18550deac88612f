"""Crop that follows the subject: faces when there are faces, else the busiest region.

The clip's stretch of the source is decoded at a few frames a second, small and grey (one
ffmpeg pipe, no seeking); each frame gives a horizontal centre of interest; the path is
smoothed and its speed limited so the frame glides instead of jittering; the result is a
piecewise-linear crop x(t) for ffmpeg.
"""

from __future__ import annotations

import logging
import os
import subprocess

import numpy as np

from ..config import RenderConfig
from ..errors import FFmpegError
from ..media.ffmpeg import binary, media_path
from ..types import MediaInfo
from .layout import crop_x_expression

log = logging.getLogger(__name__)
SAMPLE_FPS = 2.0
ANALYSIS_WIDTH = 320
MAX_SPEED = 0.15        # of the frame width per second
SMOOTH_SECONDS = 2.0


def _frames(info: MediaInfo, start: float, duration: float) -> tuple[np.ndarray, int, int]:
    w = ANALYSIS_WIDTH
    h = max(2, int(round(w * info.height / max(1, info.width) / 2)) * 2)
    argv = [binary("ffmpeg"), "-v", "error", "-nostdin", "-ss", f"{start:.3f}", "-t", f"{duration:.3f}",
            "-i", media_path(info.path), "-vf", f"fps={SAMPLE_FPS:g},scale={w}:{h}", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        # A decode failure is an error, not "no frames" (which would silently mean a centre crop).
        raise FFmpegError("decoding frames to follow the subject failed", argv=argv,
                          stderr=proc.stderr.decode("utf-8", "replace"))
    raw = proc.stdout
    n = len(raw) // (w * h)
    return np.frombuffer(raw[: n * w * h], dtype=np.uint8).reshape(n, h, w), w, h


def _face_detector():
    """OpenCV's Haar face cascade where this OpenCV ships it (4.x does; 5.x moved it out)."""
    try:
        import cv2

        path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        if hasattr(cv2, "CascadeClassifier") and os.path.isfile(path):
            return cv2.CascadeClassifier(path)
    except (ImportError, AttributeError):
        pass
    log.debug("no face cascade in this OpenCV: following the busiest region only")
    return None


def centres(frames: np.ndarray) -> list[float]:
    """Horizontal centre of interest per frame, 0..1: the largest face, else the busiest column band."""
    cascade = _face_detector()
    out: list[float] = []
    prev = None
    for frame in frames:
        w = frame.shape[1]
        faces = () if cascade is None else cascade.detectMultiScale(
            frame, scaleFactor=1.15, minNeighbors=5, minSize=(w // 16, w // 16))
        if len(faces):
            x, _, fw, _ = max(faces, key=lambda f: f[2] * f[3])
            out.append(float(x + fw / 2) / w)
        else:
            # Motion where there is motion, else edges: product close-ups are busy regions.
            energy = np.abs(frame.astype(np.int16) - prev.astype(np.int16)).sum(axis=0) if prev is not None else None
            if energy is None or energy.sum() < frame.size * 2:
                energy = np.abs(np.diff(frame.astype(np.int16), axis=1)).sum(axis=0)
            band = max(1, w // 4)
            window = np.convolve(energy.astype(float), np.ones(band), mode="same")
            out.append(float(np.argmax(window)) / w)
        prev = frame
    return out


def smooth_path(points: list[float], fps: float = SAMPLE_FPS) -> list[float]:
    """Moving average, then a speed limit (pure)."""
    if not points:
        return []
    k = max(1, int(SMOOTH_SECONDS * fps))
    padded = np.pad(np.asarray(points, dtype=float), (k, k), mode="edge")
    avg = np.convolve(padded, np.ones(2 * k + 1) / (2 * k + 1), mode="valid")
    step = MAX_SPEED / fps
    out = [float(avg[0])]
    for p in avg[1:]:
        out.append(out[-1] + float(np.clip(p - out[-1], -step, step)))
    return out


def follow_subject(info: MediaInfo, start: float, duration: float, cfg: RenderConfig) -> str | None:
    """A crop x(t) expression for ``layout = "crop"``, or None to keep the centre crop."""
    frames, _, _ = _frames(info, start, duration)
    if len(frames) == 0:
        return None
    path = smooth_path(centres(frames))
    # The source is scaled to cover the output; its scaled width decides how far x can move.
    scale = max(cfg.width / info.width, cfg.height / info.height)
    scaled_w = info.width * scale
    room = max(0.0, scaled_w - cfg.width)
    if room < 2:
        return None  # nothing to pan: the source is as narrow as the output
    keyframes = [(i / SAMPLE_FPS, float(np.clip(c * scaled_w - cfg.width / 2, 0, room))) for i, c in enumerate(path)]
    keyframes = keyframes[:: max(1, len(keyframes) // 24)]  # a short expression: ffmpeg parses it per frame
    return crop_x_expression(keyframes)
