from clipper.config import load_config
from clipper.sentences import split_sentences
from clipper.types import SpeechSegment, Transcript, Word

CFG = load_config().sentences


def transcript(words, segments=None, language="en"):
    words = tuple(Word(t, s, e) for t, s, e in words)
    segs = segments or [(0, len(words) - 1)]
    return Transcript(language, 1.0, 100.0, "test", words,
                      tuple(SpeechSegment(words[a].start, words[b].end, "", a, b) for a, b in segs))


def test_english_splits_at_full_stops_not_decimals():
    t = transcript([(" It", 0.0, 0.2), (" costs", 0.2, 0.5), (" 3.5", 0.5, 0.8), (" dollars.", 0.8, 1.2),
                    (" Soft", 1.3, 1.6), (" fabric.", 1.6, 2.0)])
    out = split_sentences(t, CFG).sentences
    assert [s.text for s in out] == ["It costs 3.5 dollars.", "Soft fabric."]
    assert out[0].first_word == 0 and out[0].last_word == 3 and out[1].start == 1.3


def test_chinese_without_punctuation_splits_at_pauses_and_segment_ends():
    chars = "这个面料很软" + "三九九到手"
    words = [(c, i * 0.2, i * 0.2 + 0.18) for i, c in enumerate(chars[:6])]
    words += [(c, 2.5 + i * 0.2, 2.5 + i * 0.2 + 0.18) for i, c in enumerate(chars[6:])]  # 1.3 s pause
    out = split_sentences(transcript(words, language="zh"), CFG).sentences
    assert [s.text for s in out] == ["这个面料很软", "三九九到手"]
    # A recogniser segment end with a short pause also ends a sentence.
    words2 = [(c, i * 0.2, i * 0.2 + 0.15) for i, c in enumerate(chars)]
    words2 = words2[:6] + [(c, s + 0.35, e + 0.35) for c, s, e in words2[6:]]
    out2 = split_sentences(transcript(words2, segments=[(0, 5), (6, 10)], language="zh"), CFG).sentences
    assert len(out2) == 2


def test_long_run_on_is_split_at_the_widest_pause():
    words = []
    t = 0.0
    for i in range(60):
        gap = 0.5 if i == 30 else 0.05
        words.append((f" w{i}", t, t + 0.2))
        t += 0.2 + gap
    out = split_sentences(transcript(words), CFG).sentences
    assert len(out) >= 2
    assert out[0].last_word == 30  # cut where the speaker paused (after word 30)
    assert all(s.last_word - s.first_word + 1 <= CFG.max_words for s in out)
    # Every word belongs to exactly one sentence, in order.
    covered = [i for s in out for i in range(s.first_word, s.last_word + 1)]
    assert covered == list(range(60))


def test_long_run_on_without_pauses_is_split_where_the_recogniser_ended_a_segment():
    # Whisper often hides a sentence break in the next word's start (no gap in the word times)
    # and writes no punctuation: its segment end is then the only trace of the break.
    first, second = "下一款给大家上的是这条高腰阔腿裤也是一条特别显腿长的裤子", "面料里面加了百分之五的氨纶所以弹力特别好你看我这样拉"
    words = [(c, i * 0.25, (i + 1) * 0.25) for i, c in enumerate(first + second)]  # back to back
    segments = [(0, len(first) - 1), (len(first), len(words) - 1)]
    out = split_sentences(transcript(words, segments=segments, language="zh"), CFG).sentences
    assert [s.text for s in out] == [first, second]


def test_long_silence_starts_a_new_passage():
    t = transcript([(" One.", 0.0, 0.5), (" Two.", 0.7, 1.0), (" Three.", 5.0, 5.5)])
    out = split_sentences(t, CFG).sentences
    assert [s.passage for s in out] == [0, 0, 1]


def test_empty_transcript_gives_no_sentences():
    t = Transcript("en", 0.0, 10.0, "test", (), ())
    assert split_sentences(t, CFG).sentences == ()
