"""The walk's work around transcription: the next window read ahead in a thread, edges of
clips published already not checked again, the run's WAV kept for the last passes, and the
language found without a VAD pass over a whole window."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from test_edge_silence import CFG, DURATION, edges, heard, in_spoken, write_sound

from clipper.edge_silence import refine_edges
from clipper.pipeline.windows import read_ahead
from clipper.plan import build_plan
from clipper.transcribe import whisper


# -- read_ahead ---------------------------------------------------------------------------------
def _wait_until(done, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(0.005)
    return done()


def test_read_ahead_yields_every_item_in_order_computing_the_next_meanwhile():
    made: list[int] = []

    def items():
        for i in range(5):
            made.append(i)
            yield i

    got = []
    for i in read_ahead(items()):
        if i < 4:
            assert _wait_until(lambda: len(made) >= i + 2), "the next one is made while the caller works"
        time.sleep(0.05)
        assert len(made) <= i + 3, "one waits, one more is in the thread's hand, no further"
        got.append(i)
    assert got == made == [0, 1, 2, 3, 4]


def test_an_error_in_the_thread_is_raised_in_the_caller_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("window 3 failed")

    got = []
    with pytest.raises(ValueError, match="window 3 failed"):
        for i in read_ahead(items()):
            got.append(i)
    assert got == [1, 2]


def test_a_caller_that_stops_early_stops_the_thread_after_the_item_in_hand():
    made: list[int] = []
    closed = threading.Event()

    def items():
        try:
            for i in range(100):
                made.append(i)
                yield i
        finally:
            closed.set()

    with pytest.raises(KeyboardInterrupt):
        for i in read_ahead(items()):
            if i == 2:
                raise KeyboardInterrupt
    assert closed.wait(5.0), "the generator is closed in its thread"
    assert len(made) <= 5, made     # 2 in hand, one waiting, one being made when the stop came


# -- edges of published clips are not read again -----------------------------------------------
@pytest.fixture(scope="module")
def sound(tmp_path_factory):
    return write_sound(tmp_path_factory.mktemp("overlap") / "speech.wav")


def test_edges_of_clips_before_the_cursor_are_left_as_planned_and_not_read(sound):
    sentences, segmentation = heard()
    plan = build_plan(sentences, segmentation, None, ("selling_point",), CFG, DURATION)
    c1, c2 = plan.clips
    assert in_spoken(c1.start, 0.0) and in_spoken(c1.end, 0.0)
    cursor = c1.end + CFG.edge_search + 0.01
    got = refine_edges(plan, sound, sentences, CFG, DURATION, after=cursor)
    assert got.clips[0] == c1, "before the cursor: untouched"
    assert not [t for t in edges(got)[2:] if in_spoken(t)], "after it: checked and moved as always"
    # An edge within edge_search of the cursor could still move past it: it is checked.
    near = refine_edges(plan, sound, sentences, CFG, DURATION, after=c1.end + CFG.edge_search - 0.01)
    assert near.clips[0] != c1


# -- language detection reads slices, not the whole window ----------------------------------------
class _Recorder:
    def __init__(self, speech_from: float):
        self.calls: list[tuple[float, float]] = []
        self.speech_from = speech_from
        self.at = 0.0

    def detect_language(self, audio, vad_filter):
        seconds = len(audio) / whisper.SAMPLE_RATE
        self.calls.append((self.at, seconds))
        start = self.at
        self.at += seconds
        if start + seconds <= self.speech_from:
            raise ValueError("max() arg is an empty sequence")   # what faster-whisper raises on no speech
        return "zh", 0.93, []


def test_language_is_detected_from_the_first_slice_that_holds_speech():
    audio = np.zeros(int(600 * whisper.SAMPLE_RATE), dtype=np.float32)
    model = _Recorder(speech_from=300.0)
    assert whisper._detect_language(model, audio) == ("zh", 0.93)
    step = whisper.LANGUAGE_SLICE
    assert all(seconds <= step for _, seconds in model.calls)
    assert [round(a) for a, _ in model.calls] == [0, round(step), round(2 * step)]


def test_a_window_without_speech_has_no_language():
    audio = np.zeros(int(250 * whisper.SAMPLE_RATE), dtype=np.float32)
    model = _Recorder(speech_from=1e9)
    assert whisper._detect_language(model, audio) == ("", 0.0)
    assert sum(s for _, s in model.calls) == pytest.approx(250.0)
