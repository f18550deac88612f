"""Filter graphs that turn any source frame into the output frame (pure strings).

``blur``: the source, scaled to fit, over a blurred copy of itself that fills the frame. The
blur runs at 1/8 resolution and is scaled back up: same look, a fraction of the cost.
``crop``: fills the frame; centred, or following the subject (``reframe.track``).
``fit``: letterbox on black. ffmpeg auto-rotates on decode, so rotated phone footage arrives
upright here. Subtitles, title and AI label are one ASS file burned in last; a logo is
overlaid before them.
"""

from __future__ import annotations

from typing import Sequence

from ..config import RenderConfig
from ..media.ffmpeg import filter_arg

SUBS_FILE = "subs.ass"  # ffmpeg runs in the folder holding it: no path escaping in the graph
_CORNERS = {"top-left": ("M", "M"), "top-right": ("W-w-M", "M"), "bottom-left": ("M", "H-h-M"),
            "bottom-right": ("W-w-M", "H-h-M")}


def video_graph(cfg: RenderConfig, *, has_video: bool, subtitles: bool = True, logo_input: int | None = None,
                crop_x: str | None = None, source_fps: float = 0.0) -> str:
    """From [0:v] (or a colour frame on input 1) to [v].

    The frame rate changes where it costs least: a faster source drops its extra frames
    before any work; a slower one (25 fps into 30) is composed and subtitled at its own rate
    and its frames repeated last, a sixth fewer frames through the graph."""
    w = cfg.width
    early = has_video and (not source_fps or source_fps > cfg.fps)
    base = "[1:v]setsar=1[base]" if not has_video else _layout(cfg, crop_x)
    if early:
        base = base.replace("[0:v]", f"[0:v]fps={cfg.fps:g},", 1)
    parts = [base]
    last = "base"
    if logo_input is not None:
        lw = _even(int(w * cfg.logo_width))
        x, y = (c.replace("M", str(cfg.margin_h)) for c in _CORNERS[cfg.logo_position])
        parts.append(f"[{logo_input}:v]scale={lw}:-2,format=rgba,colorchannelmixer=aa={cfg.logo_opacity:g}[logo]")
        parts.append(f"[{last}][logo]overlay={x}:{y}[withlogo]")
        last = "withlogo"
    tail = "format=yuv420p"
    if subtitles:
        tail += f",subtitles=f={filter_arg(SUBS_FILE)}"
    if not early:
        tail += f",fps={cfg.fps:g}"
    parts.append(f"[{last}]{tail}[v]")
    return ";".join(parts)


def _layout(cfg: RenderConfig, crop_x: str | None) -> str:
    w, h = cfg.width, cfg.height
    if cfg.layout == "crop":
        x = f":x='{crop_x}'" if crop_x else ""
        return f"[0:v]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}{x},setsar=1[base]"
    if cfg.layout == "fit":
        return (f"[0:v]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
                f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1[base]")
    sw, sh = _even(w // 8), _even(h // 8)
    # boxblur's radius must fit the (half-size) chroma planes: small frames get a smaller one.
    radius = max(1, min(8, min(sw, sh) // 4 - 1))
    return (f"[0:v]split=2[bgsrc][fgsrc];"
            f"[bgsrc]scale={sw}:{sh}:force_original_aspect_ratio=increase,crop={sw}:{sh},"
            # fast_bilinear: the blurred background has no detail for a better scaler to keep.
            f"boxblur={radius}:2,scale={w}:{h}:flags=fast_bilinear,setsar=1[bg];"
            f"[fgsrc]scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[fg];"
            f"[bg][fg]overlay=(W-w)/2:(H-h)/2[base]")


def crop_x_expression(keyframes: Sequence[tuple[float, float]]) -> str:
    """Crop x (pixels of the scaled frame, as a function of t) through keyframes, linearly.

    Commas are escaped for the filter graph (the expression sits inside quotes).
    """
    if not keyframes:
        return "(iw-ow)/2"
    expr = f"{keyframes[-1][1]:.1f}"
    for (t0, x0), (t1, x1) in reversed(list(zip(keyframes, keyframes[1:]))):
        span = max(t1 - t0, 1e-3)
        expr = f"if(lt(t\\,{t1:.2f})\\,{x0:.1f}+({x1 - x0:.1f})*(t-{t0:.2f})/{span:.3f}\\,{expr})"
    return f"if(lt(t\\,{keyframes[0][0]:.2f})\\,{keyframes[0][1]:.1f}\\,{expr})"


def _even(n: int) -> int:
    return max(2, n - n % 2)
