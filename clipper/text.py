"""Small pure helpers for mixed Chinese/English text."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+(?:['’.-][A-Za-z0-9\u00c0-\u024f\u0400-\u04ff]+)*")

STRONG_END = "。！？!?；;…"
SOFT_END = "，,、：:"


def cjk_count(text: str) -> int:
    return len(_CJK.findall(text))


def is_cjk(text: str) -> bool:
    """True when CJK characters outnumber Latin words."""
    return cjk_count(text) >= len(_LATIN_WORD.findall(_CJK.sub(" ", text))) and cjk_count(text) > 0


def units(text: str) -> int:
    """Length in reading units: one per CJK character, one per Latin/Cyrillic word."""
    return cjk_count(text) + len(_LATIN_WORD.findall(_CJK.sub(" ", text)))


def ends_sentence(token: str) -> bool:
    """Does a word token close a sentence? ("3.5" and "e.g." do not; "well." does.)"""
    t = token.strip().rstrip("\"'”’)）」』")
    if not t:
        return False
    if t[-1] in STRONG_END:
        return True
    if t.endswith(".") and not t.endswith(".."):
        body = t[:-1]
        return bool(body) and not re.fullmatch(r"(?i)(mr|mrs|ms|dr|st|vs|etc|e\.g|i\.e|no)", body)
    return t.endswith("...")


def ends_clause(token: str) -> bool:
    t = token.strip()
    return bool(t) and t[-1] in SOFT_END


def join_words(tokens: list[str]) -> str:
    """Join recogniser word tokens: Latin tokens carry their own leading space, CJK ones none."""
    return "".join(tokens).strip()


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of a text file from any tool a user may export with: UTF-8 (with or
    without BOM), UTF-16/32 with BOM, else GB18030 (a superset of GBK and GB2312, what Chinese
    Windows tools write). ValueError when it is none of them, or binary."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    candidates = [encoding] if encoding else ["utf-8", "gb18030"]
    for name in candidates:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if any(ch == "\x00" or (ord(ch) < 32 and ch not in "\t\n\r\f\v") for ch in text):
            raise ValueError("binary data, not text")
        return text, name
    raise ValueError("not text in UTF-8, UTF-16 with a BOM or GB18030/GBK")


def read_text_file(path) -> str:
    """A user's text file, decoded by ``decode_text``; the encoding used is logged (-v).
    ConfigError (one line, the file named) when it cannot be read as text."""
    import logging
    from pathlib import Path

    from .errors import ConfigError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from None
    try:
        text, encoding = decode_text(data)
    except ValueError as exc:
        raise ConfigError(f"cannot read as text: {exc}", path=str(path)) from None
    logging.getLogger(__name__).info("%s: read as %s", path, encoding)
    return text


@lru_cache(maxsize=2)
def chinese_script(script: str) -> Callable[[str], str]:
    """OpenCC's converter to ``"simplified"`` or ``"traditional"`` Chinese (built once)."""
    import opencc

    return opencc.OpenCC("t2s" if script == "simplified" else "s2t").convert


def to_simplified(text: str) -> str:
    return chinese_script("simplified")(text) if cjk_count(text) else text
