"""faster-whisper transcription in bounded memory.

The 16 kHz WAV is read window by window (``media.audio.chunk_bounds``), each window is
transcribed with word timestamps and VAD, and words are shifted to source time. Memory
stays at one window (10 minutes of float32 audio is 38 MB) however long the stream is.
The language is detected once, on the first window with speech, then held for the rest:
hosts keep to one language, and per-window detection flips on music and noise.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

from ..config import TranscribeConfig
from ..errors import Interrupted, ModelError, TranscriptionError
from ..media.audio import SAMPLE_RATE, chunk_bounds, read_window
from ..stopping import never, stop_if
from ..text import chinese_script
from ..types import Correction, SpeechSegment, Transcript, Word
from . import dropped, vad, vocabulary
from .models import resolve

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkResult:
    """The words of one audio window, in source time."""

    start: float
    end: float
    language: str
    language_probability: float
    words: tuple[Word, ...]
    segments: tuple[tuple[float, float, str, int], ...]  # (start, end, text, word count)
    corrections: tuple[Correction, ...] = ()     # word indexes within this window
    unheard: tuple[tuple[float, float], ...] = ()  # speech no word covers, even decoded again

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "language": self.language,
                "language_probability": self.language_probability,
                "words": [[w.text, w.start, w.end, w.probability] for w in self.words],
                "segments": [list(s) for s in self.segments],
                "corrections": [c.to_dict() for c in self.corrections],
                "unheard": [list(u) for u in self.unheard]}

    @classmethod
    def of_transcript(cls, t: Transcript) -> "ChunkResult":
        """A whole transcript as one window (the inverse of ``assemble`` for one window)."""
        return cls(0.0, t.duration, t.language, t.language_probability, t.words,
                   tuple((s.start, s.end, s.text, s.last_word - s.first_word + 1) for s in t.segments),
                   t.corrections, t.unheard)

    @classmethod
    def from_dict(cls, d: dict) -> "ChunkResult":
        return cls(d["start"], d["end"], d["language"], d["language_probability"],
                   tuple(Word(*w) for w in d["words"]), tuple(tuple(s) for s in d["segments"]),
                   tuple(Correction.from_dict(c) for c in d.get("corrections", ())),
                   tuple(tuple(u) for u in d.get("unheard", ())))


def load_model(cfg: TranscribeConfig):
    """A faster-whisper model, or ModelError with one clear line."""
    where = resolve(cfg.model)
    device, compute = local_runtime(cfg)
    threads = recogniser_threads(cfg.threads, os.environ, os.cpu_count() or 1)
    try:
        model = _whisper(where, _stamp(where), device, compute, threads)
    except Exception as exc:  # noqa: BLE001 - hub, disk and CTranslate2 errors all mean "cannot load"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if not Path(where).exists():
            raise ModelError(f"cannot fetch Whisper model '{cfg.model}' from the hub "
                             f"(offline or unknown id): {reason}") from None
        raise ModelError(f"cannot load Whisper model '{cfg.model}' from {where}: {reason}") from None
    if cfg.vad:
        _load_vad()
    return model


def recogniser_threads(configured: int, environ: Mapping[str, str], cores: int) -> int:
    """CTranslate2's thread count (pure): the configured one; for 0 ("all cores") the
    OpenMP convention's ``OMP_NUM_THREADS`` when it is set, else every core.

    A count passed to CTranslate2 overrides ``OMP_NUM_THREADS``, so without this a Ray task
    (Ray sets the variable to the task's CPU request) or a pytest-xdist worker ran a pool as
    large as the machine beside the others, each descheduling the rest at every barrier."""
    if configured > 0:
        return configured
    try:
        omp = int(environ.get("OMP_NUM_THREADS", "").split(",")[0])
    except ValueError:
        omp = 0
    return omp if omp > 0 else cores


def runtime(cfg: TranscribeConfig, cuda_devices: int) -> tuple[str, str]:
    """(device, compute type) for the settings on a machine with ``cuda_devices`` GPUs (pure).

    auto -> CUDA when there is a GPU; compute auto -> float16 on CUDA, int8 on the CPU (where
    float16 does not run and int8 is the fast path).
    """
    device = cfg.device if cfg.device != "auto" else ("cuda" if cuda_devices > 0 else "cpu")
    compute = cfg.compute_type
    if compute == "auto":
        compute = "float16" if device == "cuda" else "int8"
    elif device == "cpu" and "float16" in compute:
        compute = "int8"
    return device, compute


def local_runtime(cfg: TranscribeConfig) -> tuple[str, str]:
    """``runtime`` on this machine (its GPUs counted only when the device is auto)."""
    return runtime(cfg, _cuda_devices() if cfg.device == "auto" else 0)


def _cuda_devices() -> int:
    from ..render.encoder import cuda_devices

    return cuda_devices()


def decode_options(cfg: TranscribeConfig, device: str, language: str | None = None) -> dict:
    """Arguments for the recogniser's transcribe call beyond the audio and language (pure).

    On CUDA, faster-whisper's batched pipeline decodes ``batch_size`` stretches of speech at
    once (its VAD splits the window); on the CPU the sequential decoder is as fast and keeps
    the previous behaviour. Chinese is decoded with ``beam_size_zh`` (the README's recogniser
    table: beam 5 makes fewer errors than greedy on real Mandarin, and beam 10 no fewer). The
    configured terms (product names) go to the decoder as hotwords when asked; the categories'
    words never do: as hotwords they raised the character error rate from 10.9 % to 15.1 % and
    more than doubled the time.
    """
    chinese = language in ("zh", "yue")
    beam = cfg.beam_size_zh if chinese and cfg.beam_size_zh else cfg.beam_size
    options = {"beam_size": beam, "word_timestamps": True, "vad_filter": cfg.vad,
               "condition_on_previous_text": False}
    if not cfg.fallback:
        options["temperature"] = 0.0
    hot = vocabulary.hotwords(cfg.vocabulary) if cfg.hotwords else None
    if hot:
        options["hotwords"] = hot
    if device == "cuda":
        options["batch_size"] = cfg.batch_size
        options["vad_filter"] = True       # the batched pipeline cuts the audio at VAD pauses
    else:
        options["vad_parameters"] = {"min_silence_duration_ms": 500}
    return options


@lru_cache(maxsize=1)
def _whisper(where: str, stamp: tuple[int, int], device: str, compute: str, threads: int):
    """The last model loaded stays loaded: Pipelines made one after another in a process (the
    Python API, a service) share it. ``stamp`` makes a replaced model.bin load afresh."""
    from faster_whisper import WhisperModel

    return WhisperModel(where, device=device, compute_type=compute, cpu_threads=threads)


def _stamp(where: str) -> tuple[int, int]:
    try:
        st = (Path(where) / "model.bin").stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return 0, 0   # a hub id


def _load_vad() -> None:
    """Load the VAD (onnxruntime and Silero) with the model, not lazily inside the first window:
    an import interrupted there (Ctrl-C) would surface as "requires the onnxruntime package"."""
    try:
        import faster_whisper.vad  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"the VAD filter needs onnxruntime ({exc}): pip install onnxruntime, "
                         "or set transcribe.vad = false") from None
    try:
        vad.install()   # the decoder's VAD and the dropped-speech check share its probabilities
    except Exception as exc:  # noqa: BLE001 - a damaged model asset or runtime
        raise ModelError(f"cannot load the VAD model: {exc}") from None


MID_WINDOW = "mid-window; the window is transcribed again on resume"


def transcribe_chunks(model, wav: Path, cfg: TranscribeConfig, *, language: str | None = None,
                      resume_from: float = 0.0,
                      on_progress: Callable[[float], None] | None = None,
                      should_stop: Callable[[], bool] = never,
                      on_partial: Callable[[ChunkResult], None] | None = None) -> Iterator[ChunkResult]:
    """Transcribe ``wav`` window by window, starting with the window that begins at ``resume_from``.

    ``should_stop`` is asked between decoded segments; when it says so, ``Interrupted`` is raised
    and the window in hand is dropped. ``on_partial`` is given the window in hand as far as it
    is decoded, after each segment (before the dropped-speech check and homophone fixes)."""
    for start, end in chunk_bounds(wav, cfg.chunk_seconds):
        if end <= resume_from + 1e-6:
            continue
        stop_if(should_stop, MID_WINDOW)
        chunk = transcribe_audio(model, read_window(wav, start, end), start, cfg, language, should_stop, on_partial)
        language = language or chunk.language or None
        if on_progress:
            on_progress(end)
        yield chunk


def transcribe_audio(model, audio, offset: float, cfg: TranscribeConfig, language: str | None = None,
                     should_stop: Callable[[], bool] = never,
                     on_partial: Callable[[ChunkResult], None] | None = None) -> ChunkResult:
    """One window of 16 kHz float32 audio that starts at ``offset`` seconds of the source.

    Without a language (given, configured, or learnt from earlier windows) it is detected
    first, then the window is decoded with it fixed: the language's prompt then applies from
    the first window (for Chinese it steers script and punctuation).
    """
    end = offset + len(audio) / SAMPLE_RATE
    lang = language or (None if cfg.language == "auto" else cfg.language)
    if lang is None and not getattr(model.model, "is_multilingual", True):
        lang = "en"  # an English-only model (tiny.en) has nothing to detect
    probability = 1.0
    if lang is None:
        lang, probability = _detect_language(model, audio, decode_options(cfg, _device(model)).get("vad_parameters"))
        if not lang:
            return ChunkResult(offset, end, "", 0.0, (), ())
        log.info("language detected: %s (p=%.2f)", lang, probability)
    return _transcribe_window(model, audio, offset, end, lang, cfg, probability, should_stop, on_partial)


# Seconds of speech Whisper's language detection reads (its input window).
DETECT_SECONDS = 30


def _device(model) -> str:
    return getattr(getattr(model, "model", None), "device", "cpu")


def _detect_language(model, audio, vad_parameters: dict | None = None) -> tuple[str, float]:
    """Language of the speech in a window ("" when the window holds none).

    Whisper reads the first 30 s of the speech the VAD finds anywhere in the window, with the
    decoder's VAD settings: what faster-whisper's own transcribe reads when it is given no
    language (a bare run's detection). Only those 30 s are gathered; faster-whisper's
    ``detect_language(vad_filter=True)`` first copies every stretch of speech in the window
    (0.5-0.8 s of a 10-minute window). The VAD pass costs nothing extra: its probabilities
    are the ones the decoder's VAD reads next (``vad.install``)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    need = DETECT_SECONDS * SAMPLE_RATE
    pieces, have = [], 0
    for span in get_speech_timestamps(audio, VadOptions(**(vad_parameters or {}))):
        piece = audio[span["start"]:min(span["end"], span["start"] + need - have)]
        pieces.append(piece)
        have += len(piece)
        if have >= need:
            break
    if not have:
        log.debug("language detection found no speech in the window")
        return "", 0.0
    try:
        language, probability, _ = model.detect_language(np.concatenate(pieces), vad_filter=False)
    except Exception as exc:  # noqa: BLE001 - a window too short to score
        log.debug("language detection failed: %s", exc)
        return "", 0.0
    return language, float(probability)


def _transcribe_window(model, audio, start: float, end: float, lang: str,
                       cfg: TranscribeConfig, probability: float,
                       should_stop: Callable[[], bool] = never,
                       on_partial: Callable[[ChunkResult], None] | None = None) -> ChunkResult:
    prompt = cfg.prompt_zh if lang == "zh" and cfg.prompt_zh else None
    convert = _zh_converter(cfg.zh_script) if lang in ("zh", "yue") else None
    try:
        options = decode_options(cfg, _device(model), lang)
        if "batch_size" in options:
            from faster_whisper import BatchedInferencePipeline

            segments, info = BatchedInferencePipeline(model).transcribe(audio, language=lang, initial_prompt=prompt,
                                                                         **options)
        else:
            segments, info = model.transcribe(audio, language=lang, initial_prompt=prompt, **options)
        words: list[Word] = []
        segs: list[tuple[float, float, str, int]] = []
        for seg in segments:
            stop_if(should_stop, MID_WINDOW)
            if not cfg.fallback and not dropped.trusted(seg):
                # Without the fallback faster-whisper keeps what it could not trust (a loop, a
                # stock phrase); dropped here, the stretch is heard again by the dropped-speech check.
                log.debug("segment at %.1fs not trusted, dropped: %r", start + seg.start, seg.text[:60])
                continue
            seg_words = [Word(text=convert(w.word) if convert else w.word, start=float(round(start + w.start, 3)), end=float(round(start + w.end, 3)),
                              probability=round(float(w.probability), 3))
                         for w in (seg.words or []) if w.word.strip()]
            if not seg_words:
                continue
            words.extend(seg_words)
            text = convert(seg.text) if convert else seg.text
            segs.append((seg_words[0].start, seg_words[-1].end, text, len(seg_words)))
            if on_partial is not None:
                on_partial(ChunkResult(start, seg_words[-1].end, lang, probability, tuple(words), tuple(segs)))
        unheard: list[tuple[float, float]] = []
        if cfg.redecode_dropped:
            again = dict(options, language=lang, initial_prompt=prompt)
            words, segs, unheard = dropped.recover(model, audio, start, words, segs, again, convert,
                                                     should_stop)
    except Interrupted:
        raise
    except Exception as exc:  # noqa: BLE001
        raise TranscriptionError(f"transcription failed in {start:.0f}-{end:.0f}s: {exc}") from exc
    corrections: list[Correction] = []
    if cfg.homophones != "off" and lang == "zh":
        words, segs, corrections = vocabulary.correct(words, segs, _matcher(_vocabulary(cfg), cfg.homophones))
        if corrections:
            log.info("%.0f-%.0fs: %s", start, end, vocabulary.describe(corrections))
    return ChunkResult(start, end, lang, probability, tuple(words), tuple(segs), tuple(corrections),
                       tuple(unheard))


def _vocabulary(cfg: TranscribeConfig) -> tuple[str, ...]:
    return _cached_vocabulary(tuple(cfg.vocabulary), tuple(cfg.vocabulary_categories))


@lru_cache(maxsize=4)
def _cached_vocabulary(terms: tuple[str, ...], categories: tuple[str, ...]) -> tuple[str, ...]:
    return vocabulary.vocabulary(terms, categories)


@lru_cache(maxsize=4)
def _matcher(words: tuple[str, ...], mode: str) -> vocabulary.Matcher:
    return vocabulary.Matcher(words, mode)


@lru_cache(maxsize=2)
def _zh_converter(script: str) -> Callable[[str], str] | None:
    """Whisper writes Chinese in either script, even mid-stream; normalise to one."""
    if script == "keep":
        return None
    return chinese_script(script)


def assemble(chunks: list[ChunkResult], duration: float, model_name: str) -> Transcript:
    """Join window results into one Transcript (pure)."""
    words: list[Word] = []
    segments: list[SpeechSegment] = []
    corrections: list[Correction] = []
    unheard: list[tuple[float, float]] = []
    for chunk in chunks:
        corrections.extend(replace(c, word=c.word + len(words)) for c in chunk.corrections)
        unheard.extend(chunk.unheard)
        taken = 0
        for s_start, s_end, text, count in chunk.segments:
            first = len(words)
            words.extend(chunk.words[taken:taken + count])
            taken += count
            segments.append(SpeechSegment(s_start, s_end, text.strip(), first, len(words) - 1))
    lang_chunk = next((c for c in chunks if c.words), None)
    return Transcript(
        language=lang_chunk.language if lang_chunk else "",
        language_probability=lang_chunk.language_probability if lang_chunk else 0.0,
        duration=duration, model=model_name, words=tuple(words), segments=tuple(segments),
        corrections=tuple(corrections), unheard=tuple(unheard))
