"""Chinese subtitle text as a Chinese viewer expects it.

The recogniser writes what it heard: sometimes traditional characters (Whisper was trained on
both scripts), ASCII punctuation, and numbers spelled out the way hosts say them ("三十九块九",
"百分之五十", "三号链接"). On screen a viewer expects simplified script, full-width
punctuation, no line that starts with a punctuation mark, and digits where digits are what
one would write: prices, percentages, discounts, sizes and weights, link numbers, large
counts. Small counts stay in characters ("两件", "一个", "第一"), as do words that merely
contain a numeral ("一下", "十分", "一点点", "五点开播").

Everything here is pure and works on a line of text; it is applied to what is drawn and to
the sidecar, never to the transcript (the review page corrects the recogniser's own words).
"""

from __future__ import annotations

import re

from ..text import to_simplified

_NUMERAL = "零〇一二两三四五六七八九十百千万"
_NUM = rf"(?:[{_NUMERAL}]+|\d+)"
_DECIMAL = rf"{_NUM}(?:点[{_NUMERAL}]+|\.\d+)?"

# Units after which a number is always written in digits; counts only from ten up.
_MEASURE = ("厘米", "公分", "毫米", "公斤", "千克", "毫升", "英寸", "斤", "克", "米", "寸", "号", "折")
_COUNT = ("单", "件", "个", "份", "瓶", "盒", "套", "条", "双", "支", "位", "码", "小时", "分钟", "秒",
          "天", "年")

# 三十九块九 (39.9): a single numeral right after 块 is the tenths, unless a unit follows it
# (一百块一件 is 100 a piece).
_PRICE = re.compile(rf"({_DECIMAL})(块钱|块|元)(?:([{_NUMERAL}]|\d)(?!{'|'.join(_MEASURE + _COUNT)}))?")
_PERCENT = re.compile(rf"百分之({_DECIMAL})")
_UNIT = re.compile(rf"({_DECIMAL})({'|'.join(_MEASURE + _COUNT)})(?![{_NUMERAL}\d])")

# ASCII marks written beside Chinese text, and their full-width forms.
_FULL_WIDTH = {",": "，", "?": "？", "!": "！", ";": "；", ":": "：", "(": "（", ")": "）"}
_CJK_CHAR = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
# No line starts with these (closing marks and pauses belong to the line before).
NO_LINE_START = "，。、；：？！…）》」』”’,.;:?!)"


def _value(spoken: str) -> float:
    """The value of a number as said (Chinese numerals, digits, or a decimal with 点)."""
    if re.fullmatch(r"\d+(?:\.\d+)?", spoken):
        return float(spoken)
    import cn2an

    return float(cn2an.cn2an(spoken.replace("〇", "零"), "smart"))


def _digits(value: float) -> str:
    if value >= 10000 and value % 1000 == 0:
        return f"{value / 10000:g}万"
    return f"{value:g}"


def _number(spoken: str) -> str | None:
    try:
        return _digits(_value(spoken))
    except (ValueError, KeyError, TypeError):   # cn2an rejects what is not a number ("十十")
        return None


def spoken_numbers(text: str) -> str:
    """Prices, percentages, measures and large counts said in words, written in digits."""
    def price(m: re.Match[str]) -> str:
        whole, unit_word, cents = _number(m.group(1)), m.group(2), m.group(3)
        if whole is None:
            return m.group(0)
        if unit_word == "块" and not cents and float(whole) < 10:
            return m.group(0)   # 两块 may be two pieces; 两块钱, 九块九 and 三十块 are prices
        if cents:   # 三十九块九 is 39.9
            tenth = _number(cents)
            if tenth is None or "." in whole:
                return m.group(0)
            whole = f"{float(whole) + float(tenth) / 10:g}"
        return f"{whole}元"

    def percent(m: re.Match[str]) -> str:
        n = _number(m.group(1))
        return m.group(0) if n is None else f"{n}%"

    def unit(m: re.Match[str]) -> str:
        spoken, name = m.group(1), m.group(2)
        if spoken.isdigit():
            return m.group(0)
        if name == "折" and re.fullmatch(r"[一二三四五六七八九]{2}", spoken):
            spoken = "".join(str("一二三四五六七八九".index(c) + 1) for c in spoken)   # 七五折 is 75折
        n = _number(spoken)
        if n is None:
            return m.group(0)
        if name in _COUNT and _value(spoken) < 10:
            return m.group(0)   # 两件, 一个, 三天: small counts are written in characters
        return f"{n}{name}"

    text = _PRICE.sub(price, text)
    text = _PERCENT.sub(percent, text)
    return _UNIT.sub(unit, text)


def in_spoken_number(left: str, right: str) -> bool:
    """Would a line break between these two words split a number (三十九|块, 块|九, 百分|之五十)?"""
    left, right = left.strip(), right.strip()
    if not left or not right:
        return False
    digit_like = _NUMERAL + "0123456789点."
    return ((left[-1] in digit_like and (right[0] in digit_like + "块元%" or right.startswith("钱")))
            or (left[-1] in "块" and right[0] in digit_like) or left.endswith(("百分", "百分之")))


def full_width(text: str) -> str:
    """ASCII punctuation next to Chinese characters in its full-width form ("..." as "…")."""
    text = re.sub(r"\.{3,}", "…", text)
    text = re.sub(rf"(?<={_CJK_CHAR})\.(?!\d)", "。", text)
    out = []
    for i, ch in enumerate(text):
        if ch in _FULL_WIDTH:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if re.match(_CJK_CHAR, before) or re.match(_CJK_CHAR, after) or not (before + after).strip():
                ch = _FULL_WIDTH[ch]
        out.append(ch)
    return re.sub(r"(?<=[，。？！；：、])\s+|\s+(?=[，。？！；：、])", "", "".join(out))


def subtitle_line(line: str) -> str:
    """One line of a Chinese subtitle, ready to draw: simplified, full-width punctuation,
    digits where natural, no punctuation at its start, and no pause mark at its end."""
    line = full_width(spoken_numbers(to_simplified(line.strip())))
    line = line.lstrip(NO_LINE_START + " ")
    while line and line[-1] in "，。、；：,.;: ":
        line = line[:-1]
    return line


def subtitle_word(word: str) -> str:
    """A single word (karaoke draws words one by one): script and punctuation only, as a
    number may be spread over several words."""
    return full_width(to_simplified(word))
