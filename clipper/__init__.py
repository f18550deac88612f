"""clipper: long e-commerce livestream recordings -> short vertical clips, one per selling point.

    from clipper import Pipeline, load_config
    result = Pipeline(load_config()).run("stream.mp4", "out/")
    for clip in result.plan.clips: print(clip.id, clip.kind, clip.tags, clip.start, clip.end)

``result.plan.clips`` are the cuts (kind, tags, product, times, text), ``result.clips`` the
rendered files (same ids), ``result.manifest`` both as JSON. More: docs/api.md.
"""

__version__ = "0.1.0"

from .config import Config, load_config  # noqa: E402
from .errors import ClipperError  # noqa: E402
from .pipeline import Pipeline, RunResult  # noqa: E402
from .types import (  # noqa: E402
    ClipSpec, CutPlan, Label, MediaInfo, RenderedClip, Segment, Segmentation, Sentence, SentenceList,
    Shots, Transcript, Word,
)

__all__ = [
    "Pipeline", "RunResult", "Config", "load_config", "ClipperError", "ClipSpec", "CutPlan", "Label",
    "MediaInfo", "RenderedClip", "Segment", "Segmentation", "Sentence", "SentenceList", "Shots",
    "Transcript", "Word", "__version__",
]
