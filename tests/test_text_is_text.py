"""Text is text: what a user or the recogniser supplies is drawn as typed, never read as markup.

Every place text is drawn (subtitle words, karaoke words, the title from the template and tag
names, a reviewer's title, the AI label, remix intro/outro cards) goes through
``render.subtitles.ass_text``; file names in a filter graph go through ``media.ffmpeg.filter_arg``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pysubs2
import pytest
from click.testing import CliRunner

from clipper import load_config
from clipper.cli import main
from clipper.media.ffmpeg import filter_arg, media_path, safe_argv
from clipper.render.clip import clip_title, render_clip
from clipper.render.subtitles import ass_text, build_cues, read_srt, to_ssa, write_srt
from clipper.types import ClipSpec, Sentence, Transcript, Word
from conftest import frame

NASTY = ["{\\b1}bold?", "a {50% off} b", "\\N", "new\\nline", "hard\\hspace", "50%", "a:b", "it's", "x,y;z",
         "[in][out]", "trailing\\", "\\leading", "\\{", "}{", "%{pts}", "C:\\\\path"]
CFG = load_config().render


def libass_visible(text: str, tags: bool = False) -> str:
    """What libass draws for an event's text (its rules: ``{...}`` is an override block,
    ``\\N`` ``\\n`` break, ``\\h`` is a hard space, ``\\{`` ``\\}`` are braces); a word joiner draws
    nothing. An override block fails, unless ``tags`` (our own karaoke tags): then it is skipped."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "{" and "}" in text[i:]:
            assert tags, f"override block in {text!r}"
            i = text.index("}", i) + 1
            continue
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "Nnh{}":
            out.append({"N": "\n", "n": "\n", "h": "\u00a0"}.get(text[i + 1], text[i + 1]))
            i += 2
            continue
        if ch != "\u2060":
            out.append(ch)
        i += 1
    return "".join(out)


@pytest.mark.parametrize("text", NASTY)
def test_ass_text_draws_exactly_what_was_typed(text):
    assert libass_visible(ass_text(text)) == text
    assert libass_visible(ass_text(text) + r"\N" + ass_text(text)) == text + "\n" + text
    assert libass_visible("{\\k20}" + ass_text(text) + "{\\k20}" + ass_text(text), tags=True) == text + text


def test_line_breaks_in_text_are_line_breaks_only_where_allowed():
    assert libass_visible(ass_text("Linen\n50% off")) == "Linen\n50% off"
    assert libass_visible(ass_text("Linen\n50% off", newlines=False)) == "Linen 50% off"


def _words(texts: list[str]) -> list[Word]:
    return [Word(" " + t, i * 0.6, i * 0.6 + 0.5) for i, t in enumerate(texts)]


@pytest.mark.parametrize("karaoke", [False, True])
def test_every_drawn_text_reaches_the_ass_file_as_typed(tmp_path, karaoke):
    cfg = CFG.model_copy(update={"karaoke": karaoke, "ai_label_text": "AI {gen} \\N 50%", "max_lines": 1,
                                 "max_line_chars_latin": 200})
    words = _words(NASTY)
    cues = build_cues(words, {len(words) - 1}, 0.0, 20.0, cfg)
    reviewer = ClipSpec("c001", "selling_point", ("fabric",), 1, 0.0, 20.0, ("s1",), "", title="Linen {50% off} \\h")
    title = clip_title(reviewer, cfg)
    path = tmp_path / "subs.ass"
    to_ssa(cues, cfg, 20.0, title).save(str(path))
    events = pysubs2.load(str(path)).events
    by_style = {}
    for e in events:
        by_style.setdefault(e.style, []).append(libass_visible(e.text, tags=karaoke))
    assert by_style["Title"] == ["Linen {50% off} \\h"]
    assert by_style["Label"] == ["AI {gen} \\N 50%"]
    assert " ".join(by_style["Default"]).split() == " ".join(NASTY).split()


def test_title_from_template_and_tag_names_is_escaped(tmp_path):
    cfg = CFG.model_copy(update={"title_template": "{tag_en} {{50%}} [x]; a:b,'c' \\N"})
    clip = ClipSpec("c001", "selling_point", ("fabric",), 1, 0.0, 5.0, ("s1",), "")
    title = clip_title(clip, cfg)
    assert title == "Fabric {50%} [x]; a:b,'c' \\N"
    path = tmp_path / "t.ass"
    to_ssa([], cfg, 5.0, title).save(str(path))
    assert [libass_visible(e.text) for e in pysubs2.load(str(path)) if e.style == "Title"] == [title]


def test_srt_sidecar_keeps_the_text(tmp_path):
    path = tmp_path / "x.srt"
    write_srt([(0.0, 1.0, "a {50% off} b"), (1.0, 2.5, "\\N and <i>")], path)
    assert read_srt(path) == [(0.0, 1.0, "a {50% off} b"), (1.0, 2.5, "\\N and <i>")]
    assert [e.text for e in pysubs2.load(str(path))][0] == "a {50% off} b"   # other readers agree


def test_filter_graph_file_name_with_every_special_character(tmp_path, monkeypatch):
    """A file name inside a filter graph (the subtitles filter): escaped for both parsers."""
    monkeypatch.chdir(tmp_path)
    name = "a:b'c,d;[e]\\f%g.ass"
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"], subs.info["PlayResY"] = "160", "90"
    subs.append(pysubs2.SSAEvent(start=0, end=2000, text="XXXX"))
    subs.save(name)
    proc = subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=160x90:d=1",
                           "-vf", f"subtitles=f={filter_arg(media_path(name))}", "-frames:v", "1", "out.png"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert frame(tmp_path / "out.png", 0).max() > 128   # the text was drawn


def test_paths_reach_ffmpeg_absolute():
    argv = safe_argv(["ffmpeg", "-f", "lavfi", "-i", "color=c=red:s=2x2", "-i", "live 20:00.mp4", "-i", "-x.mp4",
                      "-i", "https://host/a.m3u8", "-f", "null", "-"])
    assert argv[4] == "color=c=red:s=2x2" and argv[6] == str(Path("live 20:00.mp4").resolve())
    assert argv[8] == str(Path("-x.mp4").resolve()) and argv[10] == "https://host/a.m3u8" and argv[-1] == "-"
    assert safe_argv(["ffmpeg", "-i", "/a.mp4", "-f", "mp4", "-out.mp4"])[-1] == str(Path("-out.mp4").resolve())


def _ink(image: np.ndarray) -> int:
    return int((image.max(axis=2) > 160).sum())


@pytest.mark.slow
def test_remix_card_and_clip_render_draw_braces(sample_stream, tmp_path):
    """Real renders: a clip whose words hold markup-like text, and a remix whose intro card is
    'Linen {50% off}': the braces are drawn (as wide as parentheses), not swallowed."""
    cfg = load_config(overrides={"render": {"width": 360, "height": 640, "preset": "ultrafast", "loudness": 0.0,
                                            "cover": False, "title": False, "ai_label": False, "layout": "fit"}})
    from clipper.media.probe import probe

    info = probe(sample_stream)
    texts = ["Linen", "{50%", "off}", "\\N", "[a]", "b;c"]
    words = tuple(Word(" " + t, 12.0 + i * 0.5, 12.4 + i * 0.5) for i, t in enumerate(texts))
    transcript = Transcript("en", 1.0, info.duration, "test", words, ())
    sentence = Sentence("s1", 12.0, 15.0, " ".join(texts), 0, len(words) - 1)
    clip = ClipSpec("c001", "selling_point", (), 1, 11.8, 15.2, ("s1",), sentence.text)
    run = tmp_path / "run"
    rendered = render_clip(info, clip, transcript, [sentence], cfg.render, run / "clips")
    assert " ".join(t for _, _, t in read_srt(run / rendered.subtitles)).split() == texts
    manifest = {"version": 1, "source": {"path": str(sample_stream), "duration": info.duration},
                "clips": [{"id": "c001", "file": rendered.file, "subtitles": rendered.subtitles, "kind": "selling_point",
                           "tags": [], "start": clip.start, "end": clip.end, "duration": rendered.duration,
                           "text": clip.text}]}
    (run / "manifest.json").write_text(json.dumps(manifest))
    config = tmp_path / "c.toml"
    config.write_text('[render]\nwidth = 360\nheight = 640\npreset = "ultrafast"\n')
    ink = {}
    for intro in ("Linen {50% off}", "Linen (50% off)", "Linen"):
        out = tmp_path / f"remix {len(ink)}.mp4"
        result = CliRunner().invoke(main, ["remix", str(run / "manifest.json"), "--out", str(out), "--config",
                                           str(config), "--transition", "0", "--intro", intro])
        assert result.exit_code == 0, result.stderr
        assert json.loads(out.with_suffix(".json").read_text())["intro"] == intro
        ink[intro] = _ink(frame(out, 1.0))
    assert ink["Linen {50% off}"] > 1.8 * ink["Linen"], ink
    assert abs(ink["Linen {50% off}"] - ink["Linen (50% off)"]) <= 0.15 * ink["Linen (50% off)"], ink
