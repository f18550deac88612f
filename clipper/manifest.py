"""manifest.json: what each clip is (contract: ../shared/manifest.schema.json, vendored here)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from ._version import __version__
from .errors import StageError
from .types import ClipSpec, CutPlan, MediaInfo, RenderedClip, Segmentation
from .workspace import write_json_atomic

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def build_manifest(info: MediaInfo, language: str, plan: CutPlan, rendered: Sequence[RenderedClip],
                   segmentation: Segmentation, extra: dict[str, Any] | None = None,
                   review: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The manifest; ``review`` gives each clip's review state and edits (clipper.review)."""
    by_id = {r.id: r for r in rendered}
    review = review or {}
    clips = [_clip_entry(c, by_id[c.id]) | ({"review": review[c.id]} if c.id in review else {})
             for c in plan.clips if c.id in by_id]
    manifest = {
        "version": 1,
        "generator": f"clipper {__version__}",
        "source": {"path": str(Path(info.path).resolve()), "duration": round(info.duration, 3),
                   "width": info.width, "height": info.height, "has_video": info.has_video,
                   # which sound was clipped: the default track (0-based among the audio tracks)
                   "audio_track": info.audio_track, "audio_tracks": info.audio_tracks,
                   **({"picture": [info.video_start, info.video_end]} if info.video_end else {})},
        "language": language,
        "segmentation": {"backend": segmentation.backend, "category": segmentation.category,
                         "fallbacks": list(segmentation.fallbacks)},
        "clips": clips,
        "dropped": list(plan.dropped),
        **(extra or {}),
    }
    validate(manifest)
    return manifest


def _clip_entry(clip: ClipSpec, r: RenderedClip) -> dict[str, Any]:
    return {
        "id": clip.id, "file": r.file, "kind": clip.kind, "tags": list(clip.tags),
        "start": clip.start, "end": clip.end, "text": clip.text, "subtitles": r.subtitles,
        "duration": r.duration, "product": clip.product, "score": clip.score,
        "sentence_ids": list(clip.sentence_ids), "width": r.width, "height": r.height,
        "edges": {"start": clip.start_reason, "end": clip.end_reason},
        "take": clip.take, "best_take": clip.best_take, "cover": r.cover or None, "title": r.title,
        "category": clip.category or None,
        "aigc": json.loads(r.aigc) if r.aigc else None,   # the implicit AI label in the MP4
    }


def validate(manifest: dict[str, Any]) -> None:
    import jsonschema   # here: 0.1 s to import, and only a written manifest is validated

    try:
        jsonschema.validate(manifest, schema())
    except jsonschema.ValidationError as exc:
        raise StageError(f"manifest does not match its schema: {exc.message}") from None


def write_manifest(manifest: dict[str, Any], out_dir: Path) -> Path:
    return write_json_atomic(out_dir / "manifest.json", manifest)
