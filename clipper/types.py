"""Frozen values passed between stages.

media -> MediaInfo -> Transcript -> Sentence[] -> Segmentation -> Shots -> CutPlan -> RenderedClip[]

Every value converts to and from plain JSON (``to_dict`` / ``from_dict``) so
each stage's output can be written to the work folder and a run can resume.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T", bound="JsonValue")


class JsonValue:
    """Mixin: dataclass <-> dict, recursing into nested values and tuples."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _dump(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = _load(hints[f.name], data[f.name])
        return cls(**kwargs)


def _dump(value: Any) -> Any:
    if isinstance(value, JsonValue):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


def _load(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _load(inner[0], value) if len(inner) == 1 else value
    if origin is tuple:
        item = args[0] if args else Any
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_load(item, v) for v in value)
        return tuple(_load(a, v) for a, v in zip(args, value))
    if origin is dict:
        return dict(value)
    if isinstance(hint, type) and issubclass(hint, JsonValue):
        return hint.from_dict(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value


@dataclass(frozen=True)
class MediaInfo(JsonValue):
    """What ffprobe says about a source. width/height are as displayed (rotation applied)."""

    path: str
    duration: float
    size_bytes: int
    format_name: str
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    rotation: int = 0
    fps: float = 0.0
    video_codec: str = ""
    audio_codec: str = ""
    sample_rate: int = 0
    channels: int = 0
    audio_track: int = 0        # which audio stream is clipped (0-based among audio streams): the default one
    audio_tracks: int = 0       # how many audio streams there are
    video_start: float = 0.0    # where the picture starts and ends, in source seconds (0, 0: unknown,
    video_end: float = 0.0      # taken as the whole file)


@dataclass(frozen=True)
class Word(JsonValue):
    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class SpeechSegment(JsonValue):
    """One decoder segment of the recogniser: words[first:last+1]. Its end is a soft sentence hint."""

    start: float
    end: float
    text: str
    first_word: int
    last_word: int


@dataclass(frozen=True)
class Correction(JsonValue):
    """A recogniser word rewritten because it sounded like a vocabulary term (a homophone):
    ``words[word]`` was heard as ``heard`` and now reads ``text``."""

    word: int
    heard: str
    text: str
    term: str


@dataclass(frozen=True)
class Transcript(JsonValue):
    language: str
    language_probability: float
    duration: float
    model: str
    words: tuple[Word, ...]
    segments: tuple[SpeechSegment, ...]
    corrections: tuple[Correction, ...] = ()   # homophones rewritten (transcribe.homophones)
    # (start, end) where the VAD heard speech that no word covers, even decoded a second time
    # (transcribe.redecode_dropped): text may be missing there.
    unheard: tuple[tuple[float, float], ...] = ()

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


@dataclass(frozen=True)
class Sentence(JsonValue):
    """A sentence: words[first_word:last_word+1]; passage groups consecutive speech."""

    id: str
    start: float
    end: float
    text: str
    first_word: int
    last_word: int
    passage: int = 0


@dataclass(frozen=True)
class SentenceList(JsonValue):
    language: str
    sentences: tuple[Sentence, ...]


class Label(str, Enum):
    SELLING_POINT = "SELLING_POINT"
    PROMO = "PROMO"
    CHATTER = "CHATTER"

    @property
    def kind(self) -> str:
        return self.value.lower()

    @classmethod
    def from_kind(cls, kind: str) -> "Label":
        return cls(kind.upper())


@dataclass(frozen=True)
class Segment(JsonValue):
    """The classification of one sentence."""

    sentence_id: str
    label: Label
    tags: tuple[str, ...] = ()
    product: int = 1
    time_bound: bool = False
    score: float = 0.0
    backend: str = "rules"
    cues: tuple[str, ...] = ()
    category: str = ""        # the product's category when detected per product ("" = the stream's)


@dataclass(frozen=True)
class Segmentation(JsonValue):
    backend: str
    category: str
    segments: tuple[Segment, ...]
    fallbacks: tuple[dict[str, Any], ...] = ()   # windows where the model failed and rules answered


@dataclass(frozen=True)
class Shots(JsonValue):
    """Scene cuts found inside the windows that were searched (not the whole file)."""

    windows: tuple[tuple[float, float], ...]
    cuts: tuple[float, ...]
    detector: str = "content"


@dataclass(frozen=True)
class ClipSpec(JsonValue):
    id: str
    kind: str
    tags: tuple[str, ...]
    product: int
    start: float
    end: float
    sentence_ids: tuple[str, ...]
    text: str
    score: float = 0.0
    start_reason: str = "pause"
    end_reason: str = "pause"
    take: int = 1             # rank among clips of the same product and subject (1 = best)
    best_take: bool = True
    category: str = ""        # the product's category (detected per product by the embed backend)
    # Set by a review (clipper.review): the clip's words when its edges were moved by whole
    # words (-1: its sentences' words), a title typed by the reviewer ("" = from the template)
    # and corrected words as (index into the transcript's words, new text).
    first_word: int = -1
    last_word: int = -1
    title: str = ""
    corrections: tuple[tuple[int, str], ...] = ()

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class CutPlan(JsonValue):
    clips: tuple[ClipSpec, ...]
    dropped: tuple[dict[str, Any], ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RenderedClip(JsonValue):
    id: str
    file: str
    subtitles: str
    duration: float
    width: int
    height: int
    cover: str = ""
    title: str = ""
    aigc: str = ""            # the implicit AI label written into the MP4 (JSON), "" when off
