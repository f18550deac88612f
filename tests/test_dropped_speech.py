"""The dropped-speech detector: speech the VAD hears that no word covers (no recogniser: fast)."""

import numpy as np
from conftest import shared_media

from clipper.transcribe.dropped import _windows, merge, speech_spans, uncovered
from clipper.types import Word


def test_speech_without_words_is_a_gap():
    speech = [(0.0, 5.0), (10.0, 12.0)]
    words = [(0.2, 1.0), (1.0, 2.5), (2.6, 4.8)]
    assert uncovered(speech, words) == [(10.0, 12.0)]


def test_a_gap_inside_a_stretch_of_speech_and_at_its_ends():
    # Words cover 0-1.5 and 4-5 of one stretch: 1.5-4 (less the slack around words) is a gap.
    assert uncovered([(0.0, 5.0)], [(0.0, 1.5), (4.0, 5.0)]) == [(1.8, 3.7)]
    assert uncovered([(0.0, 5.0)], [(0.0, 2.0)]) == [(2.3, 5.0)]
    assert uncovered([(0.0, 5.0)], [(3.0, 5.0)]) == [(0.0, 2.7)]


def test_padding_and_word_time_slack_are_not_gaps():
    # The VAD pads speech by 0.2 s; word times are off by a few tenths: nothing is missing here.
    assert uncovered([(0.8, 3.2)], [(1.0, 1.9), (2.0, 3.0)]) == []
    assert uncovered([(0.0, 0.4)], []) == []                        # shorter than a lost word


def test_recovered_segments_go_back_in_time_order():
    words = [Word("a", 0.0, 1.0), Word("b", 1.0, 2.0), Word("c", 8.0, 9.0)]
    segments = [(0.0, 2.0, "ab", 2), (8.0, 9.0, "c", 1)]
    extra = [((4.0, 5.0, "x", 1), [Word("x", 4.0, 5.0)])]
    new_words, new_segments = merge(words, segments, extra)
    assert [w.text for w in new_words] == ["a", "b", "x", "c"]
    assert [s[2] for s in new_segments] == ["ab", "x", "c"] and sum(s[3] for s in new_segments) == 4


def test_a_recovered_stretch_inside_a_long_segment_splits_it():
    words = [Word("甲", 0.0, 1.0), Word("乙", 1.0, 2.0), Word("丙", 9.0, 10.0)]
    segments = [(0.0, 10.0, "甲乙丙。", 3)]                      # one segment run on past a pause
    new_words, new_segments = merge(words, segments, [((5.0, 6.0, "丁", 1), [Word("丁", 5.0, 6.0)])])
    assert [w.text for w in new_words] == ["甲", "乙", "丁", "丙"]
    assert [(s[2], s[3]) for s in new_segments] == [("甲乙", 2), ("丁", 1), ("丙", 1)]


def test_nearby_gaps_share_one_decode_that_fits_in_thirty_seconds():
    windows = _windows([(20.0, 21.0), (25.0, 26.0), (50.0, 51.0)], total=120.0)
    assert [(lo, hi) for lo, hi, _ in windows] == [(10.0, 36.0), (40.0, 61.0)]
    assert len(windows[0][2]) == 2
    far = _windows([(20.0, 21.0), (35.0, 36.0)], total=120.0)            # merged would be 36 s
    assert len(far) == 2


def test_the_vad_finds_speech_that_a_transcript_left_out():
    # Two real recordings with silence between; the "transcript" has words for the first only.
    from faster_whisper.audio import decode_audio

    first = decode_audio(str(shared_media("zh_asr_example_6s.wav")))
    second = decode_audio(str(shared_media("zh_news_foxconn_8s.wav")))
    audio = np.concatenate([first, np.zeros(16000 * 3, np.float32), second])
    spans = speech_spans(audio)
    words = [(0.5, 5.0)]
    gaps = uncovered(spans, words)
    start = (len(first) + 16000 * 3) / 16000
    assert gaps and all(s >= 5.0 for s, _ in gaps)
    assert sum(e - s for s, e in gaps if s >= start - 0.5) > 5.0            # most of the news read


def test_without_the_fallback_the_decoder_runs_once_at_temperature_zero():
    from clipper.config import load_config
    from clipper.transcribe.whisper import decode_options

    off = load_config().transcribe                       # the default: no fallback
    on = load_config(overrides={"transcribe": {"fallback": True}}).transcribe
    assert decode_options(off, "cpu", "zh")["temperature"] == 0.0
    assert "temperature" not in decode_options(on, "cpu", "zh")   # faster-whisper's own 0.0 ... 1.0
    assert decode_options(off, "cuda", "en")["temperature"] == 0.0
