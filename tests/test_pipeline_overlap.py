"""The walk's work around transcription: the next window read ahead in a thread, edges of
clips published already not checked again, the run's WAV kept for the last passes, and the
language found without a VAD pass over a whole window."""

from __future__ import annotations

import subprocess
import threading
import time
from contextlib import closing

import numpy as np
import pytest
from test_edge_silence import CFG, DURATION, edges, heard, in_spoken, write_sound

from clipper.edge_silence import refine_edges
from clipper.errors import Interrupted
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


def _read_ahead_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "clipper-read-ahead" and t.is_alive()]


def test_a_caller_that_stops_early_stops_the_thread_and_waits_for_it():
    made: list[int] = []
    closed = threading.Event()
    stop = threading.Event()

    def items():
        try:
            for i in range(100):
                made.append(i)
                # An item that takes long unless the stop is seen (a window mid-decode).
                deadline = time.monotonic() + (0.0 if i < 3 else 30.0)
                while time.monotonic() < deadline and not stop.is_set():
                    time.sleep(0.01)
                yield i
        finally:
            closed.set()

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with closing(read_ahead(items(), stop)) as got:
            for i in got:
                if i == 2:
                    raise KeyboardInterrupt
    assert closed.is_set(), "the generator is closed in its thread before the caller goes on"
    assert not _read_ahead_threads(), "no thread is left running (a native one would abort the exit)"
    assert time.monotonic() - started < 10.0, "the item in hand was dropped at the stop"
    assert len(made) <= 5, made     # 2 in hand, one waiting, one being made when the stop came


def test_a_stop_raised_out_of_the_threads_start_still_waits_for_the_thread(monkeypatch):
    """A signal that lands while ``Thread.start`` waits for the new thread raises out of
    start() with the thread running (a CI run saw its window decoded after "clipper:
    stopped"): the thread is still told to stop and waited for."""
    stop = threading.Event()
    closed = threading.Event()
    real_start = threading.Thread.start

    def start_then_interrupted(self):
        real_start(self)
        raise KeyboardInterrupt          # what the signal handler raises inside start()'s wait

    def items():
        try:
            while not stop.is_set():     # a window that runs until it is told to stop
                time.sleep(0.01)
            yield 1
        finally:
            closed.set()

    monkeypatch.setattr(threading.Thread, "start", start_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        with closing(read_ahead(items(), stop)) as got:
            next(got)
    monkeypatch.undo()
    assert stop.is_set() and closed.is_set(), "the thread was told to stop and finished"
    assert not _read_ahead_threads()


# -- a stop reaches the recogniser inside its window ---------------------------------------------
@pytest.fixture(scope="module")
def sample_audio(sample_stream, tmp_path_factory):
    wav = tmp_path_factory.mktemp("overlap audio") / "first 65 s.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(sample_stream), "-t", "65", "-vn", "-ac", "1",
                    "-ar", "16000", str(wav)], check=True)
    return wav


@pytest.fixture(scope="module")
def tiny(fast_config):
    return whisper.load_model(fast_config.transcribe)


def test_a_stop_is_seen_between_the_segments_of_a_window(sample_audio, tiny, fast_config):
    """The check is inside the window: a stop asked after its first decoded segment ends it
    there, as Interrupted (a stop, not a transcription failure)."""
    from clipper.media.audio import read_window

    asked = []

    def should_stop():
        asked.append(time.monotonic())
        return len(asked) >= 2

    audio = read_window(sample_audio, 0.0, 40.0)
    with pytest.raises(Interrupted):
        whisper.transcribe_audio(tiny, audio, 0.0, fast_config.transcribe, "en", should_stop)
    assert len(asked) == 2
    whole = whisper.transcribe_audio(tiny, audio, 0.0, fast_config.transcribe, "en")
    assert len(whole.segments) >= 2, "the window has more than one segment, so the stop came mid-window"


def test_leaving_the_windows_early_stops_the_recogniser_thread(sample_audio, tiny, fast_config):
    """What a Ctrl-C during transcription does: the walk leaves its loop while the thread
    decodes the next window; when the loop is left the thread has ended (a process that
    exits with CTranslate2 still running in a thread aborts)."""
    cfg = fast_config.transcribe.model_copy(update={"chunk_seconds": 30.0})   # three windows
    stop = threading.Event()
    chunks = whisper.transcribe_chunks(tiny, sample_audio, cfg, language="en", should_stop=stop.is_set)
    with pytest.raises(Interrupted):
        with closing(read_ahead(chunks, stop)) as windows:
            for chunk in windows:
                assert chunk.words
                raise Interrupted("stopped on request")
    assert stop.is_set()
    assert not _read_ahead_threads()


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


# -- language detection: the first 30 s of speech anywhere in the window (real Silero VAD, a
# recording stand-in for Whisper); its VAD pass is the decoder's (tests/test_vad_shared.py)
class _Recorder:
    def __init__(self):
        self.given: list[np.ndarray] = []

    def detect_language(self, audio, vad_filter):
        assert not vad_filter, "the speech is gathered already"
        self.given.append(audio)
        return "zh", 0.93, []


def test_language_is_detected_on_the_first_30_s_of_speech_anywhere_in_the_window(sample_stream):
    from faster_whisper import decode_audio
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    from clipper.transcribe import vad

    rate = whisper.SAMPLE_RATE
    speech = decode_audio(str(sample_stream))[:60 * rate]
    audio = np.concatenate([np.zeros(300 * rate, np.float32), speech, np.zeros(200 * rate, np.float32)])
    shared = vad.install()
    before = shared.scored
    model = _Recorder()
    assert whisper._detect_language(model, audio, {"min_silence_duration_ms": 500}) == ("zh", 0.93)
    (given,) = model.given
    assert len(given) == whisper.DETECT_SECONDS * rate
    assert np.abs(given).mean() > 10 * np.abs(audio[:300 * rate]).mean() + 1e-3, "speech, not the silence before"
    # The decoder's VAD (other thresholds) reads the probabilities the detection computed.
    get_speech_timestamps(audio, VadOptions(threshold=0.35))
    assert shared.scored == before + 1


def test_a_window_without_speech_has_no_language():
    model = _Recorder()
    assert whisper._detect_language(model, np.zeros(250 * whisper.SAMPLE_RATE, np.float32)) == ("", 0.0)
    assert model.given == [], "Whisper is not asked about silence"


# -- the recogniser loads while the audio is extracted --------------------------------------------
def _hear_file(sample_stream, out, model, fast_config):
    from clipper.media.probe import probe
    from clipper.pipeline.journal import Journal
    from clipper.pipeline.windows import hear_file
    from clipper.progress import LogProgress
    from clipper.workspace import Workspace

    ws = Workspace(out)
    journal = Journal.open(ws, "overlap")
    windows = []
    cfg = fast_config.transcribe.model_copy(update={"language": "en"})
    hear_file(model, probe(sample_stream), ws, journal, cfg, LogProgress(), windows.append, lambda: None)
    return ws, windows


def test_the_model_loads_while_ffmpeg_extracts_the_audio(sample_stream, tiny, fast_config, tmp_path):
    """The model is asked for while the WAV is still being written (its ``.part`` grows), not
    after it is complete."""
    wav = tmp_path / "out" / ".clipper" / "audio.wav"
    seen = {}

    def model():
        seen["part"] = _wait_until(lambda: wav.with_name("audio.wav.part").is_file())
        seen["complete"] = wav.is_file()
        return tiny

    ws, windows = _hear_file(sample_stream, tmp_path / "out", model, fast_config)
    assert seen == {"part": True, "complete": False}
    assert windows and windows[-1].words, "then the audio was transcribed with that model"


def test_a_model_that_cannot_load_stops_the_run_and_leaves_no_audio(sample_stream, fast_config, tmp_path):
    from clipper.errors import ModelError

    def model():
        raise ModelError("cannot load Whisper model 'x': broken")

    with pytest.raises(ModelError, match="broken"):
        _hear_file(sample_stream, tmp_path / "out", model, fast_config)
    assert not list((tmp_path / "out" / ".clipper").glob("audio.wav.part")), "no partial WAV left"


def test_an_error_in_a_progress_callback_stops_ffmpeg():
    """What stops the extraction when the model fails beside it (or on Ctrl-C): ffmpeg is
    killed, not left writing after the caller has given up."""
    from clipper.media.ffmpeg import ffmpeg_command, run_ffmpeg

    calls = []

    def on_progress(seconds):
        calls.append(seconds)
        raise RuntimeError("given up")

    started = time.monotonic()
    # 20 s of sound read at its own pace: finishing would take 20 s.
    argv = ffmpeg_command("-re", "-f", "lavfi", "-i", "sine=duration=20", "-f", "null", "-")
    with pytest.raises(RuntimeError, match="given up"):
        run_ffmpeg(argv, on_progress=on_progress)
    assert len(calls) == 1 and time.monotonic() - started < 10
    assert not [p for p in _children() if "sine=duration=20" in p]


def _children() -> list[str]:
    """The command lines of this process's children (Linux /proc)."""
    import os
    from pathlib import Path

    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] == me:
                found.append(stat.with_name("cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError):
            continue
    return found
