"""The implicit AI-content label of GB 45438-2025 (《人工智能生成合成内容标识方法》), annex E.

The visible "AI生成" corner label is the explicit one; this is the hidden one: a metadata field
named ``AIGC`` in the file whose value is JSON with seven string elements:

    Label              1 = AI-generated (属于), 2 = possibly (可能), 3 = suspected (疑似)
    ContentProducer    the generating service's name or code
    ProduceID          the producer's unique number for this piece of content
    ReservedCode1      the producer's own use (e.g. an anti-tamper code)
    ContentPropagator  the distributing service's name or code ("" until one is configured)
    PropagateID        the distributor's unique number for the content
    ReservedCode2      the distributor's own use

clipper writes Label "1": every clip is cut, subtitled and titled by machine. The one function
that builds the value is used for clips (``render/command.py``) and remixes (``remix.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from ..config import RenderConfig

FIELD = "AIGC"
AI_GENERATED = "1"
# Fixed namespace for clipper's uuid5 ids (uuid5 of the DNS namespace and "clipper.aigc"):
# the same inputs give the same id on every machine and in every version.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "clipper.aigc")


def produce_id(*parts: Any) -> str:
    """A uuid5 of ``parts``: unique per distinct input, identical for identical input."""
    return str(uuid.uuid5(NAMESPACE, json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))))


def clip_produce_id(source_fingerprint: str, clip_id: str, start: float, end: float) -> str:
    """ProduceID of one clip: which stretch of which recording it is.

    From the source's content fingerprint (not its path: two streams saved under the same
    name are different content, and a moved file is the same), the clip id and its edges to
    the millisecond. Rendering the same clip again (another preset, a crash, a new font)
    gives the same id, so the manifest, earlier uploads and a platform's records still agree;
    a clip cut differently (new edges) or from another recording gets a new one. uuid5 rather
    than uuid4 for exactly that: the id is recomputed, never stored and looked up.
    """
    return produce_id("clip", source_fingerprint, clip_id, round(start, 3), round(end, 3))


def remix_produce_id(parts: Iterable[str], transition: float, intro: str, outro: str, music: str) -> str:
    """ProduceID of a remix: its clips' own ProduceIDs in order plus what the remix adds."""
    return produce_id("remix", list(parts), round(transition, 3), intro, outro, music)


def aigc_fields(cfg: RenderConfig, content_id: str) -> dict[str, str]:
    """The seven elements, in the standard's order. PropagateID stays empty unless a
    propagator is configured; then it is derived from the propagator and the content's id."""
    propagate_id = produce_id("propagate", cfg.aigc_propagator, content_id) if cfg.aigc_propagator else ""
    return {"Label": AI_GENERATED, "ContentProducer": cfg.aigc_producer, "ProduceID": content_id,
            "ReservedCode1": cfg.aigc_reserved1, "ContentPropagator": cfg.aigc_propagator,
            "PropagateID": propagate_id, "ReservedCode2": cfg.aigc_reserved2}


def aigc_label(cfg: RenderConfig, content_id: str) -> str:
    """The ``AIGC`` value: compact JSON, non-ASCII kept as UTF-8 (as MP4 metadata stores it)."""
    return json.dumps(aigc_fields(cfg, content_id), ensure_ascii=False, separators=(",", ":"))


def mp4_metadata_argv(cfg: RenderConfig, content_id: str) -> list[str]:
    """ffmpeg output options for an MP4: faststart, and the AIGC field when the label is on.

    The mp4 muxer drops metadata keys it does not know unless ``use_metadata_tags`` is set
    (then it writes them as 'mdta' keys, which ffprobe and MP4 readers list by name). The
    value is one argv element, never passed through a shell, so quotes, '=' and CJK survive.
    """
    if not cfg.aigc_label:
        return ["-movflags", "+faststart"]
    return ["-movflags", "+faststart+use_metadata_tags", "-metadata", f"{FIELD}={aigc_label(cfg, content_id)}"]
