"""The decoder's VAD and the dropped-speech check score a window once (clipper/transcribe/vad.py),
and read the same spans as each would alone. Real Silero (faster-whisper's asset) on the
sample's own speech."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture(scope="module")
def speech(sample_stream):
    from faster_whisper.audio import decode_audio

    return decode_audio(str(sample_stream))[: 40 * 16000]


def _alone(audio, options):
    """The spans faster-whisper finds with a Silero model of its own (nothing shared)."""
    from faster_whisper import vad

    fresh = vad.SileroVADModel(vad.get_assets_path() + "/silero_vad_v6.onnx")
    shared = vad.get_vad_model
    vad.get_vad_model = lambda: fresh
    try:
        return vad.get_speech_timestamps(audio, options)
    finally:
        vad.get_vad_model = shared


def test_both_passes_of_a_window_score_it_once_and_find_what_they_find_alone(speech):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from clipper.transcribe import dropped, vad

    decoder = VadOptions(min_silence_duration_ms=500)          # what decode_options asks for
    checker = VadOptions(threshold=dropped.THRESHOLD, min_silence_duration_ms=300, speech_pad_ms=200)
    shared = vad.install()
    assert vad.install() is shared                               # idempotent
    before = shared.scored
    first = get_speech_timestamps(speech, decoder)
    spans = dropped.speech_spans(speech)
    assert shared.scored == before + 1                           # the second pass read the first's scores
    assert first == _alone(speech, decoder) and first
    assert spans == [(t["start"] / 16000, t["end"] / 16000) for t in _alone(speech, checker)]
    assert len(spans) != len(first) or spans != [(t["start"] / 16000, t["end"] / 16000) for t in first]

    # Other audio (a different window) is scored afresh, and so is the first again after it.
    get_speech_timestamps(speech[16000:], decoder)
    get_speech_timestamps(speech, decoder)
    assert shared.scored == before + 3


def test_each_thread_keeps_its_own_last_window(speech):
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from clipper.transcribe import vad

    shared = vad.install()
    get_speech_timestamps(speech, VadOptions())
    before = shared.scored
    other = threading.Thread(target=lambda: get_speech_timestamps(speech[:16000 * 10], VadOptions()))
    other.start()
    other.join()
    get_speech_timestamps(speech, VadOptions())                  # this thread's window is still known
    assert shared.scored == before + 1


@pytest.mark.slow
def test_a_window_of_unknown_language_is_scored_once(speech):
    """Language detection, the decoder's VAD and the dropped-speech check: one VAD pass."""
    from clipper.config import load_config
    from clipper.transcribe import vad
    from clipper.transcribe.whisper import load_model, transcribe_audio

    cfg = load_config(overrides={"transcribe": {"model": "base", "language": "auto"}}).transcribe
    model = load_model(cfg)
    shared = vad.install()
    before = shared.scored
    window = transcribe_audio(model, speech[: 20 * 16000].copy(), 0.0, cfg)
    assert window.language == "en" and window.words
    assert shared.scored == before + 1
