"""Check, before rendering, that the subtitle font has a glyph for every character.

libass silently draws boxes (tofu) for characters its font lacks, the most reported bug of
subtitle burning in CJK. fontconfig finds the file; fontTools reads its character map.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..errors import RenderError

_IGNORED = set(" \n\t\u3000")


@lru_cache(maxsize=16)
def font_file(family: str) -> Path:
    fc = shutil.which("fc-match")
    if fc is None:
        raise RenderError("fontconfig is not installed (apt-get install fontconfig)")
    out = subprocess.run([fc, "-f", "%{file}\n%{family}", family], capture_output=True, text=True).stdout
    path, _, found_family = out.partition("\n")
    if not path or family.lower() not in found_family.lower():
        raise RenderError(f"subtitle font '{family}' is not installed (fontconfig offers "
                          f"'{found_family.split(',')[0]}'); apt-get install fonts-noto-cjk")
    return Path(path)


@lru_cache(maxsize=16)
def _charset(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTCollection, TTFont

    fonts = TTCollection(str(path)).fonts if path.suffix.lower() == ".ttc" else [TTFont(str(path), lazy=True)]
    codes: set[int] = set()
    for font in fonts[:1]:  # the collection's first face is the one fontconfig named
        codes.update(font.getBestCmap() or {})
    return frozenset(codes)


def missing_glyphs(text: str, family: str) -> list[str]:
    have = _charset(font_file(family))
    return sorted({ch for ch in text if ch not in _IGNORED and ord(ch) not in have})


def check_coverage(text: str, family: str) -> None:
    missing = missing_glyphs(text, family)
    if missing:
        shown = " ".join(f"'{c}' (U+{ord(c):04X})" for c in missing[:10])
        raise RenderError(f"subtitle font '{family}' has no glyph for {shown}"
                          + (f" and {len(missing) - 10} more" if len(missing) > 10 else ""))
