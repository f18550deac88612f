"""Typed, validated configuration.

Values come from one source: ``configs/default.toml`` <- a user TOML file <- overrides
given on the command line or from Python. Every table is a pydantic model with
``extra="forbid"``, so a misspelt key fails loudly instead of being ignored.
Category taxonomies (tags and cue words) live in ``configs/categories/*.toml`` and
language-level cue words in ``configs/cues.toml``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

KINDS = ("selling_point", "promo", "chatter")
# Whisper's language codes (faster_whisper.tokenizer._LANGUAGE_CODES; tests/test_config.py
# checks they agree), listed here so that a config loads without importing the recogniser.
WHISPER_LANGUAGES = (
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de", "el",
    "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr", "ht", "hu", "hy",
    "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo", "lt", "lv", "mg", "mi",
    "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa", "pl", "ps", "pt", "ro", "ru",
    "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw", "ta", "te", "tg", "th", "tk", "tl",
    "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue")
# CTranslate2's compute types; x264's presets; the sample rates AAC encodes.
COMPUTE_TYPES = Literal["default", "auto", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                        "float16", "bfloat16", "float32"]
X264_PRESETS = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
                       "veryslow", "placebo"]
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
TITLE_FIELDS = {"tag": "fabric", "tag_zh": "面料", "tag_en": "Fabric", "product": 1, "kind": "selling point"}


def configs_dir() -> Path:
    """The configs folder: packaged inside the wheel, or the repo's top-level ``configs/``."""
    packaged = Path(__file__).parent / "_configs"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "configs"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TranscribeConfig(_Strict):
    model: str = Field(min_length=1)
    language: str
    device: Literal["cpu", "cuda", "auto"]
    compute_type: COMPUTE_TYPES
    beam_size: int = Field(ge=1, le=10)
    batch_size: int = Field(ge=1, le=256)
    vad: bool
    chunk_seconds: float = Field(ge=30)
    threads: int = Field(ge=0)
    prompt_zh: str
    zh_script: Literal["simplified", "traditional", "keep"]
    beam_size_zh: int = Field(ge=0, le=10)
    vocabulary: tuple[str, ...]
    vocabulary_categories: tuple[str, ...]
    hotwords: bool
    homophones: Literal["off", "exact", "near"]
    redecode_dropped: bool
    fallback: bool

    @field_validator("vocabulary_categories")
    @classmethod
    def _known_categories(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if name != "all" and not Path(name).suffix and name not in available_categories():
                raise ValueError(f"unknown category '{name}': all, a file in configs/categories/ "
                                 f"({', '.join(available_categories())}) or a path to one")
            if Path(name).suffix and not Path(name).is_file():
                raise ValueError(f"no such category file: {name}")
        return names

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        code = v.strip().lower()
        if code != "auto" and code not in WHISPER_LANGUAGES:
            raise ValueError(f"unknown language '{v}': auto or a Whisper language code "
                             f"(zh, en, yue, es, pt, ru, ja, ko, ...)")
        return code


class SentencesConfig(_Strict):
    max_pause: float = Field(gt=0)
    soft_pause: float = Field(ge=0)
    max_chars_cjk: int = Field(ge=8)
    max_words: int = Field(ge=5)
    passage_gap: float = Field(gt=0)


class LLMConfig(_Strict):
    window: int = Field(ge=2, le=200)
    overlap: int = Field(ge=0)
    retries: int = Field(ge=0, le=5)
    cache: bool
    combine: bool

    @model_validator(mode="after")
    def _overlap_below_window(self) -> "LLMConfig":
        if self.overlap >= self.window:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than window ({self.window})")
        return self


class TransformersConfig(_Strict):
    model: str
    gguf_file: str
    device: Literal["cpu", "cuda", "auto"]
    max_new_tokens: int = Field(ge=0)
    mode: Literal["score", "generate"]


class OpenAIConfig(_Strict):
    base_url: str
    model: str
    api_key_env: str
    timeout: float = Field(gt=0)
    retries: int = Field(ge=0, le=10)
    response_format: Literal["json_schema", "json_object", "none"]


BACKENDS = ("rules", "transformers", "openai")


class SegmentConfig(_Strict):
    backend: Literal["embed", "rules", "transformers", "openai"]
    category: str
    kinds: tuple[str, ...]
    llm: LLMConfig
    transformers: TransformersConfig
    openai: OpenAIConfig

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"kinds must be a non-empty subset of {', '.join(KINDS)}; got {unknown or 'none'}")
        return kinds


class ScenesConfig(_Strict):
    enabled: bool
    threshold: float = Field(gt=0)
    min_scene_len: float = Field(ge=0)
    prefetch: Literal["auto", "on", "off"]


class PlanConfig(_Strict):
    min_seconds: float = Field(gt=0)
    max_seconds: float = Field(gt=0)
    merge_gap: float = Field(ge=0)
    end_pause: float = Field(ge=0)
    max_pad: float = Field(ge=0)
    snap_window: float = Field(ge=0)
    edge_check: bool
    edge_search: float = Field(ge=0, le=5)
    edge_min_pause: float = Field(gt=0, le=2)
    include_promo: bool
    evergreen: bool
    keep_short: bool


class RenderConfig(_Strict):
    width: int = Field(ge=64, le=4096)
    height: int = Field(ge=64, le=4096)
    layout: Literal["blur", "crop", "fit"]
    fps: float = Field(gt=0, le=120)
    crf: int = Field(ge=0, le=51)
    preset: X264_PRESETS
    encoder: Literal["auto", "x264", "nvenc"]
    audio_bitrate: str = Field(pattern=r"^[0-9]+(\.[0-9]+)?[kKM]?$")
    audio_rate: int
    # An ffmpeg colour (a name, 0xRRGGBB or #RRGGBB, optional @alpha): it goes into a filter graph.
    background: str = Field(pattern=r"^([A-Za-z]+|(0x|#)[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?)(@[0-9.]+)?$")
    font: str
    font_size: int = Field(ge=8)
    bold: bool
    outline: float = Field(ge=0)
    text_color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    outline_color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    highlight_color: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$")
    karaoke: bool
    margin_v: int = Field(ge=0)
    margin_h: int = Field(ge=0)
    max_line_chars_cjk: int = Field(ge=4)
    max_line_chars_latin: int = Field(ge=8)
    max_lines: int = Field(ge=1, le=4)
    title: bool
    title_template: str
    title_size: int = Field(ge=8)
    ai_label: bool
    ai_label_text: str
    ai_label_position: Literal["top-left", "top-right", "bottom-left", "bottom-right"]
    aigc_label: bool
    aigc_producer: str = Field(max_length=256)
    aigc_propagator: str = Field(max_length=256)
    aigc_reserved1: str = Field(max_length=1024)
    aigc_reserved2: str = Field(max_length=1024)
    logo: str
    logo_position: Literal["top-left", "top-right", "bottom-left", "bottom-right"]
    logo_opacity: float = Field(ge=0, le=1)
    logo_width: float = Field(gt=0, le=1)
    loudness: float = Field(le=0)
    music: str
    music_volume: float = Field(ge=0, le=2)
    cover: bool
    follow: Literal["center", "subject"]
    duration_tolerance: float = Field(gt=0)
    jobs: int = Field(ge=1)

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError("must be even (H.264 with yuv420p needs even dimensions)")
        return v

    @field_validator("audio_rate")
    @classmethod
    def _aac_rate(cls, v: int) -> int:
        if v not in AAC_RATES:
            raise ValueError(f"AAC cannot encode {v} Hz: use one of {', '.join(map(str, AAC_RATES))}")
        return v

    @field_validator("title_template")
    @classmethod
    def _title_fields(cls, v: str) -> str:
        try:
            v.format(**TITLE_FIELDS)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise ValueError(f"unknown field or bad format ({exc!r}); fields: {', '.join(TITLE_FIELDS)}") from None
        return v

    @field_validator("aigc_producer", "aigc_propagator", "aigc_reserved1", "aigc_reserved2")
    @classmethod
    def _printable(cls, v: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in v):
            raise ValueError("must not contain control characters (newlines, tabs, NUL)")
        return v

    @model_validator(mode="after")
    def _aigc_has_producer(self) -> RenderConfig:
        if self.aigc_label and not self.aigc_producer.strip():
            raise ValueError("aigc_producer: the implicit AI label needs a producer name or code "
                             "(or set aigc_label = false)")
        return self


class WatchConfig(_Strict):
    stable_seconds: float = Field(ge=0)
    rescan_seconds: float = Field(gt=0)
    max_attempts: int = Field(ge=1)
    live: bool
    live_interval: float = Field(gt=0)
    live_settle: float = Field(ge=0)
    extensions: tuple[str, ...]


class Config(_Strict):
    transcribe: TranscribeConfig
    sentences: SentencesConfig
    segment: SegmentConfig
    scenes: ScenesConfig
    plan: PlanConfig
    render: RenderConfig
    watch: WatchConfig

    def section_hash(self, *names: str) -> str:
        """A stable hash of some tables, used to key the stage cache."""
        data = {n: getattr(self, n).model_dump(mode="json") for n in names}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


class TagSpec(_Strict):
    description: str
    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    zh_patterns: tuple[str, ...] = ()
    en_patterns: tuple[str, ...] = ()


class CueSet(_Strict):
    zh: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    zh_patterns: tuple[str, ...] = ()
    en_patterns: tuple[str, ...] = ()


class Cues(_Strict):
    promo: CueSet
    time_bound: CueSet
    chatter: CueSet
    next_product: CueSet
    selling: CueSet


class Category(_Strict):
    name: str
    description: str
    tags: dict[str, TagSpec]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config file not found", path=str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", path=str(path)) from None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(model: type[BaseModel], data: dict[str, Any], source: str,
              layers: list[tuple[str, dict[str, Any]]] | None = None) -> Any:
    """``data`` as ``model``, or ConfigError naming the key and where its value came from:
    the topmost of ``layers`` (name, dict) that sets it, else ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        msg = first["msg"].removeprefix("Value error, ")
        for name, layer in reversed(layers or []):
            if _has_key(layer, first["loc"]):
                source = name
                break
        raise ConfigError(f"{where}: {msg}{more}", path=source) from None


def _has_key(layer: Any, loc: tuple[Any, ...]) -> bool:
    for key in loc:
        if not isinstance(layer, dict) or key not in layer:
            return False
        layer = layer[key]
    return True


def available_presets() -> list[str]:
    return sorted(p.stem for p in (configs_dir() / "presets").glob("*.toml"))


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                preset: str | None = None, base: dict[str, Any] | None = None) -> Config:
    """Defaults <- ``base`` <- platform preset <- the TOML file at ``path`` <- ``overrides``, validated.

    ``base`` is a saved config (a run's ``.clipper/config.json``), so a re-render keeps the
    settings the run was made with and changes only what it is asked to.
    """
    data = _read_toml(configs_dir() / "default.toml")
    source = "configs/default.toml"
    layers: list[tuple[str, dict[str, Any]]] = []
    if base:
        if not isinstance(base, dict):
            raise ConfigError("the run's saved settings are not a table of settings")
        layers.append(("the run's saved settings", base))
    if preset:
        preset_file = configs_dir() / "presets" / f"{preset}.toml"
        if not preset_file.is_file():
            raise ConfigError(f"unknown preset '{preset}' (known: {', '.join(available_presets())})")
        layers.append((str(preset_file), _read_toml(preset_file)))
    if path is not None:
        layers.append((str(path), _read_toml(Path(path))))
    if overrides:
        layers.append(("command line", overrides))
    for name, layer in layers:
        data = _merge(data, layer)
        source = name
    return _validate(Config, data, source, layers)


def load_cues() -> Cues:
    return _load_file(Cues, configs_dir() / "cues.toml")


def available_categories() -> list[str]:
    return sorted(p.stem for p in (configs_dir() / "categories").glob("*.toml"))


def load_category(name_or_path: str) -> Category:
    """A category by name (``configs/categories/NAME.toml``) or by path to a TOML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = configs_dir() / "categories" / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(
                f"unknown category '{name_or_path}' (known: {', '.join(available_categories())})"
            )
    return _load_file(Category, path)


def tag_names() -> dict[str, dict[str, str]]:
    """Display names of tags ({"fabric": {"zh": "面料", "en": "Fabric"}}) for titles."""
    return copy.deepcopy(_load_file(None, configs_dir() / "tags.toml"))


def _load_file(model: type[BaseModel] | None, path: Path) -> Any:
    """A validated TOML file, parsed once per version of the file.

    Cue words and categories are read for every sentence the rules look at; parsing the
    TOML each time cost more than the classification (tens of thousands of parses in training).
    """
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1          # missing: _read_toml raises the ConfigError
    return _cached_file(model, str(path), stamp)


@lru_cache(maxsize=64)
def _cached_file(model: type[BaseModel] | None, path: str, _stamp: int) -> Any:
    data = _read_toml(Path(path))
    return data if model is None else _validate(model, data, path)
