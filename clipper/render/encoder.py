"""The video encoder's argv: x264 on the CPU, NVENC on an NVIDIA GPU (one place for both).

``render.encoder = "auto"`` takes NVENC when the machine has a CUDA device *and* this
ffmpeg can really encode with h264_nvenc (a build without it, or a driver that refuses,
falls back to x264 with a log line); "x264" and "nvenc" force one. The x264 preset and CRF
are mapped onto NVENC's p1–p7 presets and constant-quality mode so one config means the
same trade-off on both.
"""

from __future__ import annotations

import logging
import subprocess
from functools import lru_cache

from ..config import RenderConfig

log = logging.getLogger(__name__)

# x264 preset -> NVENC preset (p1 fastest .. p7 best quality).
NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p4", "fast": "p4",
                 "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7", "placebo": "p7"}


def video_codec_argv(cfg: RenderConfig, encoder: str | None = None) -> list[str]:
    """``-c:v …`` and its quality settings for ``encoder`` ("x264" or "nvenc"; None: choose)."""
    chosen = encoder or choose_encoder(cfg.encoder)
    if chosen == "nvenc":
        # Constant quality (-cq with -b:v 0) is NVENC's nearest to x264's CRF; the scales differ
        # slightly, so the same number gives a similar, not identical, size.
        return ["-c:v", "h264_nvenc", "-preset", NVENC_PRESETS[cfg.preset], "-rc", "vbr", "-cq", str(cfg.crf),
                "-b:v", "0", "-pix_fmt", "yuv420p"]
    return ["-c:v", "libx264", "-preset", cfg.preset, "-crf", str(cfg.crf), "-pix_fmt", "yuv420p"]


def choose_encoder(setting: str) -> str:
    if setting == "x264":
        return "x264"
    if setting == "nvenc":
        return "nvenc"
    return "nvenc" if cuda_devices() > 0 and nvenc_works() else "x264"


@lru_cache(maxsize=1)
def cuda_devices() -> int:
    """CUDA devices CTranslate2 sees (the recogniser's runtime; 0 on a machine without one)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - no CUDA runtime at all
        return 0


@lru_cache(maxsize=1)
def nvenc_works() -> bool:
    """Whether this ffmpeg can encode one frame with h264_nvenc here (built in and a driver)."""
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i", "color=black:s=256x256:d=0.1",
            "-frames:v", "1", "-c:v", "h264_nvenc", "-f", "null", "-"]
    try:
        ok = subprocess.run(argv, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    if not ok:
        log.info("NVENC is not usable here (ffmpeg build or driver): encoding with x264")
    return ok
