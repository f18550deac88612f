"""Homophone correction by pinyin and the vocabulary it uses (no recogniser: fast)."""

import pytest

from clipper.config import load_config
from clipper.errors import ConfigError
from clipper.transcribe.evaluate import char_errors, normalise, spoken_number, word_score
from clipper.transcribe.vocabulary import Matcher, correct, hotwords, near, vocabulary
from clipper.types import Correction, Transcript, Word


def test_a_homophone_of_a_term_is_rewritten():
    m = Matcher(["试错成本", "试错"], "exact")
    assert m.find("它会大大降低你的是错成本") == [(8, "试错成本")]
    assert m.find("是错的过程很简单") == [(0, "试错")]


def test_words_already_right_and_other_sounds_are_left_alone():
    m = Matcher(["试错成本", "换位思考"], "near")
    assert m.find("降低你的试错成本") == []
    assert m.find("我们要学会换回思考") == []       # hui is not wei: not a homophone


def test_a_common_word_is_not_turned_into_a_term():
    # 实验 (a beauty term) and 试验 sound the same; 试验 is a common word the host said.
    assert Matcher(["实验"], "near").find("我就是试验一下") == []
    assert Matcher(["颜色"], "near").find("看他眼色行事") == []


def test_a_window_that_cuts_a_word_is_not_rewritten():
    # 放晒 sounds like 防晒, but it is the end of 开放 and the start of 晒太阳.
    assert Matcher(["防晒"], "near").find("开放晒太阳") == []


def test_near_folds_the_fuzzy_pinyin_pairs_and_exact_does_not():
    assert near("zhang") == "zan" and near("ling") == "lin" and near("shi") == "si" and near("nan") == "lan"
    assert Matcher(["纯棉"], "exact").find("这件是存棉的") == []
    assert Matcher(["纯棉"], "near").find("这件是存棉的") == [(3, "纯棉")]


def test_single_characters_and_latin_terms_are_not_matched():
    m = Matcher(["斤", "UPF", "面料"], "near")
    assert m.words == ("面料",)


def test_correction_keeps_word_times_and_records_each_changed_word():
    words = [Word("它会", 0.0, 0.4), Word("降低", 0.4, 0.8), Word("你的", 0.8, 1.1), Word("是", 1.1, 1.3, 0.4),
             Word("错", 1.3, 1.5, 0.5), Word("成本。", 1.5, 2.0), Word("换位", 2.5, 2.9), Word("思考", 2.9, 3.3)]
    segments = [(0.0, 2.0, "它会降低你的是错成本。", 6), (2.5, 3.3, "换位思考", 2)]
    new_words, new_segments, fixes = correct(words, segments, Matcher(["试错成本", "换位思考"], "near"), first_index=10)
    assert [w.text for w in new_words] == ["它会", "降低", "你的", "试", "错", "成本。", "换位", "思考"]
    assert [(w.start, w.end, w.probability) for w in new_words] == [(w.start, w.end, w.probability) for w in words]
    assert fixes == [Correction(13, "是", "试", "试错成本")]
    assert new_segments[0] == (0.0, 2.0, "它会降低你的试错成本。", 6) and new_segments[1] == segments[1]


def test_a_match_never_spans_punctuation_or_two_segments():
    words = [Word("是", 0.0, 0.2), Word("，", 0.2, 0.2), Word("错", 0.3, 0.5)]
    assert correct(words, [(0.0, 0.5, "是，错", 3)], Matcher(["试错"], "near"))[2] == []
    words = [Word("是", 0.0, 0.2), Word("错", 1.3, 1.5)]
    assert correct(words, [(0.0, 0.2, "是", 1), (1.3, 1.5, "错", 1)], Matcher(["试错"], "near"))[2] == []


def test_corrections_survive_the_transcript_round_trip():
    t = Transcript("zh", 1.0, 2.0, "base", (Word("试", 0.0, 1.0),), (), (Correction(0, "是", "试", "试错"),),
                   ((3.0, 4.5),))
    assert Transcript.from_dict(t.to_dict()) == t
    assert Transcript.from_dict({k: v for k, v in t.to_dict().items() if k not in ("corrections", "unheard")}).corrections == ()


def test_vocabulary_puts_the_configured_terms_first_then_the_category_words():
    words = vocabulary(["冰丝阔腿裤", "面料"], ["apparel"])
    assert words[0] == "冰丝阔腿裤" and words.count("面料") == 1 and "垂感" in words
    assert len(vocabulary([], ["all"])) > len(words) > len(vocabulary([], []))
    line = hotwords(words, limit=10)
    assert line == "冰丝阔腿裤，面料" and hotwords([]) is None


def test_the_transcribe_keys_are_validated():
    cfg = load_config().transcribe
    assert cfg.homophones in ("off", "exact", "near") and cfg.beam_size_zh >= 0
    with pytest.raises(ConfigError, match="vocabulary_categories"):
        load_config(overrides={"transcribe": {"vocabulary_categories": ["shoes"]}})
    with pytest.raises(ConfigError, match="homophones"):
        load_config(overrides={"transcribe": {"homophones": "sometimes"}})


def test_error_rates_count_what_a_reader_sees():
    assert normalise("目前工廠產量已下降超50%。OK") == "目前工厂产量已下降超百分之五十ok"
    assert [spoken_number(n) for n in ("13", "10", "110", "205", "3.5")] == ["十三", "十", "一百一十", "二百零五", "三点五"]
    assert char_errors("试错成本", "是错成本") == 1 and char_errors("试错", "试错成本") == 2
    s = word_score("降低试错成本试错", "降低是错成本试错", ["试错"])
    assert (s.occurrences, s.missed, s.spurious) == (2, 1, 0)
    assert word_score("降低成本", "降低试错成本", ["试错"]).spurious == 1
