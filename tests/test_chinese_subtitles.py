"""Chinese subtitles as a Chinese viewer expects them (clipper/render/chinese.py and its use)."""

from __future__ import annotations

import pysubs2
import pytest

from clipper.config import load_config
from clipper.render.chinese import NO_LINE_START, spoken_numbers, subtitle_line
from clipper.render.subtitles import build_cues, to_ssa, write_srt
from clipper.types import Word

CFG = load_config().render


@pytest.mark.parametrize("said, shown", [
    ("今天只要三十九块九", "今天只要39.9元"),
    ("三十九块九一件", "39.9元一件"),          # the tenths, then a count of one
    ("一百块一件", "100元一件"),               # not 100.1: a unit follows the numeral
    ("九块九包邮", "9.9元包邮"),
    ("到手价一百九十九元", "到手价199元"),
    ("两块钱", "2元"),
    ("两块布", "两块布"),                     # 块 alone under ten may be pieces
    ("百分之五十的棉", "50%的棉"),
    ("七五折", "75折"),
    ("七点五折", "7.5折"),
    ("三号链接", "3号链接"),
    ("三十八码", "38码"),
    ("一百二十斤", "120斤"),
    ("还剩五百单", "还剩500单"),
    ("一万二单", "1.2万单"),
    ("库存只有两千件了", "库存只有2000件了"),
    # What stays in characters: small counts and words that only contain a numeral.
    ("拍大一码", "拍大一码"), ("两件", "两件"), ("一个", "一个"), ("第一个", "第一个"), ("一下", "一下"),
    ("十分好看", "十分好看"), ("五点开播", "五点开播"), ("一点点", "一点点"), ("一米六的个子", "一米六的个子"),
    ("买三送一", "买三送一"), ("五百包", "五百包"),
    ("39块9", "39.9元"),                       # digits from the recogniser, the same rule
])
def test_spoken_numbers_become_digits_where_a_writer_would_use_them(said, shown):
    assert spoken_numbers(said) == shown


@pytest.mark.parametrize("line, shown", [
    ("這件衣服很親膚,大家看一下!", "这件衣服很亲肤，大家看一下！"),   # simplified, full-width
    ("，好的宝宝们。", "好的宝宝们"),                                  # no mark at either end
    ("你们说呢?", "你们说呢？"),                                       # a question keeps its mark
    ("面料是100%棉,S码到XL码", "面料是100%棉，S码到XL码"),
    ("再看...这个", "再看…这个"),
])
def test_a_chinese_line(line, shown):
    assert subtitle_line(line) == shown


def _words(pieces):
    out, t = [], 0.0
    for text in pieces:
        out.append(Word(text, t, t + 0.3))
        t += 0.3
    return out


def test_no_chinese_subtitle_line_starts_with_punctuation_and_prices_show_in_digits(tmp_path):
    # Whisper's Chinese words often carry the mark before them (",今天"); the balanced split
    # can put such a word first on a line.
    pieces = ["宝宝们", "这件", "衣服", "，今天", "只要", "三十九", "块", "九", "，真的", "非常", "划算",
              "，库存", "只有", "两千", "件", "了", "。"]
    cues = build_cues(_words(pieces), {len(pieces) - 1}, 0.0, 10.0, CFG)
    lines = [line for c in cues for line in c.lines]
    assert len(lines) >= 2
    assert all(line and line[0] not in NO_LINE_START for line in lines), lines
    assert all(line[-1] not in "，。、" for line in lines), lines
    text = "".join(lines)
    assert "39.9元" in text and "2000件" in text and "三十九" not in text
    # Both the burned ASS and the SRT sidecar show the same text.
    subs = to_ssa(cues, CFG)
    ass = [e.plaintext.replace("\n", "") for e in subs if e.style == "Default"]
    assert ass == ["".join(c.lines) for c in cues]
    srt = tmp_path / "x.srt"
    write_srt([(c.start, c.end, c.text) for c in cues], srt)
    assert "39.9元" in srt.read_text(encoding="utf-8")


def test_karaoke_words_are_simplified_and_start_without_a_mark():
    cfg = CFG.model_copy(update={"karaoke": True})
    cues = build_cues(_words(["，這件", "衣服", "很", "親膚", "。"]), {4}, 0.0, 5.0, cfg)
    subs = to_ssa(cues, cfg)
    drawn = [e.plaintext for e in subs if e.style == "Default"]
    assert drawn == ["这件衣服很亲肤"], drawn
    assert isinstance(subs, pysubs2.SSAFile)


@pytest.mark.parametrize("pieces, not_split", [
    # Recogniser pieces (后|腰): a line may only end where a word of the language does.
    (["我们", "家", "这", "条", "裤子", "是", "高", "腰", "设计", "后", "腰", "是", "松紧", "的", "吃", "完", "饭", "也",
      "不会", "勒", "肚子"], {"后腰", "这条"}),
    # A comma near the middle must not pull a line past the limit (16 characters before).
    (["你", "摸", "上去", "就是", "那种", "滑滑的", "凉凉的", "感觉", "，", "穿", "一整天", "都", "不会", "闷"], {"感觉"}),
    # ...nor the line after a clause mark (the sample's run: 10 characters, then 16).
    (["他的", "面", "料", "是", "天", "丝", "混", "纺", "的,", "你", "摸", "上", "去", "就是", "那", "种", "滑", "滑", "的",
      "凉", "凉", "的", "感", "觉,"], {"面料", "天丝", "感觉", "上去"}),
    # 27 characters: two full lines of 14 would have to split 上|去; two cues do not.
    (["他的", "面", "料", "是", "天", "丝", "混", "纺", "的,", "你", "摸", "上", "去", "就是", "那", "种", "滑", "滑", "的",
      "凉", "凉", "的", "感", "觉,", "特"], {"上去", "摸上"}),
])
def test_chinese_lines_break_between_words_and_keep_to_the_limit(pieces, not_split):
    cues = build_cues(_words(pieces), {len(pieces) - 1}, 0.0, 10.0, CFG)
    lines = [line for c in cues for line in c.lines]
    assert "".join(lines).replace("，", "") == "".join(pieces).replace(",", "").replace("，", "")
    assert all(len(line) <= CFG.max_line_chars_cjk for line in lines), lines
    joins = {a[-1] + b[0] for a, b in zip(lines, lines[1:])}
    assert not joins & not_split, lines
