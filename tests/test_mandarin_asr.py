"""Real Whisper on real Mandarin (../shared/media, skipped when absent): homophone correction,
speech recovered after a decode dropped it, and a model given as a folder."""

import shutil

import numpy as np
import pytest
from conftest import shared_media

from clipper.config import load_config
from clipper.transcribe.models import resolve

pytestmark = [pytest.mark.slow]

ZH = {"model": "base", "language": "zh", "threads": 2, "beam_size_zh": 5, "hotwords": False,
      "redecode_dropped": False, "vocabulary": ["试错成本", "试错"], "vocabulary_categories": []}


def _audio(name: str, seconds: float | None = None):
    from faster_whisper.audio import decode_audio

    audio = decode_audio(str(shared_media(name)))
    return audio if seconds is None else audio[: int(seconds * 16000)]


@pytest.mark.shared
def test_a_misheard_term_is_corrected_and_keeps_its_times():
    from clipper.transcribe.vocabulary import syllables
    from clipper.transcribe.whisper import load_model, transcribe_audio

    # "…降低你的试错成本" (shì cuò chéng běn). Which characters Whisper base writes for it
    # depends on CTranslate2's CPU backend and the slice: 是错 on Intel's MKL path, 事错 or the
    # term itself on AMD's. So the vocabulary holds a homophone of what it wrote here: 试错成本,
    # or where it wrote that, 是错成本 (what the MKL path writes), and 试错成本 must then stay.
    audio = _audio("zh_ecom_seller_training_talk_70s.wav", 16.0)
    plain_cfg = load_config(overrides={"transcribe": {**ZH, "homophones": "off"}}).transcribe
    model = load_model(plain_cfg)
    plain = transcribe_audio(model, audio, 0.0, plain_cfg, "zh")
    heard = "".join(w.text for w in plain.words)
    spoken = syllables("试错成本")
    written = [heard[i:i + 4] for i in range(len(heard) - 3) if syllables(heard[i:i + 4]) == spoken]
    assert written and not plain.corrections, heard
    term = "是错成本" if written[0] == "试错成本" else "试错成本"

    def decoded(vocabulary):
        cfg = load_config(overrides={"transcribe": {**ZH, "homophones": "exact", "vocabulary": vocabulary}}).transcribe
        return transcribe_audio(model, audio, 0.0, cfg, "zh")

    fixed = decoded([term])
    text = "".join(w.text for w in fixed.words)
    assert term in text and written[0] not in text
    assert {c.term for c in fixed.corrections} == {term}
    assert all(fixed.words[c.word].text == c.text and plain.words[c.word].text == c.heard for c in fixed.corrections)
    assert [(w.start, w.end) for w in fixed.words] == [(w.start, w.end) for w in plain.words]
    assert term in "".join(s[2] for s in fixed.segments)
    # What was heard as written is left alone.
    assert not decoded([written[0]]).corrections


@pytest.mark.shared
def test_speech_a_decode_left_out_is_found_and_decoded_again():
    from clipper.transcribe.dropped import recover
    from clipper.transcribe.whisper import decode_options, load_model, transcribe_audio

    first = _audio("zh_asr_example_6s.wav")
    audio = np.concatenate([first, np.zeros(16000 * 3, np.float32), _audio("zh_news_foxconn_8s.wav")])
    # Greedy for the first pass (what it hears of the first recording is not the point); the
    # second pass decodes with beam 5 whatever the first used.
    cfg = load_config(overrides={"transcribe": {**ZH, "beam_size_zh": 1}}).transcribe
    model = load_model(cfg)
    # The first pass "dropped" the news read: its words are those of the first recording alone.
    part = transcribe_audio(model, first, 0.0, cfg, "zh")
    assert "富士康" not in "".join(w.text for w in part.words)
    options = dict(decode_options(cfg, "cpu", "zh"), language="zh")
    words, segments, unheard = recover(model, audio, 0.0, part.words, part.segments, options)
    later = "".join(w.text for w in words if w.start >= len(first) / 16000)
    assert "工厂" in later and ("印度" in later or "感染" in later)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert sum(s[3] for s in segments) == len(words) and len(words) > len(part.words)
    assert not any(s < len(first) / 16000 + 3 and e > len(first) / 16000 + 5 for s, e in unheard)


@pytest.mark.shared
def test_any_ctranslate2_whisper_folder_loads_through_model(tmp_path):
    from clipper.transcribe.whisper import load_model, transcribe_audio

    folder = tmp_path / "my whisper"
    shutil.copytree(resolve("tiny.en"), folder)          # the packaged model, as a user's folder
    cfg = load_config(overrides={"transcribe": {"model": str(folder), "language": "en", "threads": 2}}).transcribe
    assert resolve(cfg.model) == str(folder)
    model = load_model(cfg)
    audio = _audio("en_jfk_11s.flac")
    text = "".join(w.text for w in transcribe_audio(model, audio, 0.0, cfg, "en").words).lower()
    assert "ask not what your country can do for you" in text
