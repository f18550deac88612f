"""Filter graphs that turn any source frame into the output frame (pure strings).

``blur``: the source, scaled to fit, over a blurred copy of itself that fills the frame. The
blur runs at 1/8 resolution and is scaled back up: same look, a fraction of the cost.
``crop``: centre crop that fills the frame. ``fit``: letterbox on black.
ffmpeg auto-rotates on decode, so rotated phone footage arrives upright here.
"""

from __future__ import annotations

from ..config import RenderConfig

SUBS_FILE = "subs.ass"  # ffmpeg runs in the folder holding it: no path escaping in the graph


def video_graph(cfg: RenderConfig, *, has_video: bool, subtitles: bool = True) -> str:
    w, h = cfg.width, cfg.height
    tail = f"fps={cfg.fps:g},format=yuv420p"
    if subtitles:
        tail += f",subtitles=f={SUBS_FILE}"
    if not has_video:
        # Audio-only source: input 1 is a plain colour frame (see command.render_argv).
        return f"[1:v]setsar=1,{tail}[v]"
    if cfg.layout == "crop":
        return f"[0:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1,{tail}[v]"
    if cfg.layout == "fit":
        return (f"[0:v]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,{tail}[v]")
    sw, sh = _even(w // 8), _even(h // 8)
    return (f"[0:v]split=2[bgsrc][fgsrc];"
            f"[bgsrc]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
            f"boxblur=8:2,scale={w}:{h},setsar=1[bg];"
            f"[fgsrc]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[fg];"
            f"[bg][fg]overlay=(W-w)/2:(H-h)/2,{tail}[v]")


def _even(n: int) -> int:
    return max(2, n - n % 2)
