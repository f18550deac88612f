"""Subtitle timing, line breaking, filter graphs and ffmpeg argv (pure, no rendering)."""

from pathlib import Path

import pysubs2
import pytest

from clipper.config import load_config
from clipper.errors import RenderError
from clipper.render.command import render_argv
from clipper.render.fonts import check_coverage, missing_glyphs
from clipper.render.layout import video_graph
from clipper.render.subtitles import build_cues, to_ssa
from clipper.types import MediaInfo, Word

CFG = load_config().render
VIDEO = MediaInfo(path="/media/my stream 直播.mp4", duration=3600, size_bytes=1, format_name="mp4",
                  has_video=True, has_audio=True, width=1920, height=1080)
AUDIO_ONLY = MediaInfo(path="/media/talk.wav", duration=60, size_bytes=1, format_name="wav",
                       has_video=False, has_audio=True)


def words_of(text_times):
    return [Word(t, s, e) for t, s, e in text_times]


def test_cues_are_timed_from_the_clip_start_and_never_overlap():
    words = words_of([(" The", 100.0, 100.2), (" fabric", 100.2, 100.6), (" is", 100.6, 100.7),
                      (" linen.", 100.7, 101.2), (" Very", 101.5, 101.8), (" soft.", 101.8, 102.3)])
    cues = build_cues(words, {3, 5}, clip_start=99.8, clip_end=102.6, cfg=CFG)
    assert [c.text for c in cues] == ["The fabric is linen.", "Very soft."]
    assert cues[0].start == pytest.approx(0.2) and cues[1].start == pytest.approx(1.7)
    assert cues[0].end <= cues[1].start
    assert cues[-1].end <= 102.6 - 99.8 + 1e-6


def test_cjk_lines_respect_the_character_limit_and_keep_words_whole():
    text = "这款面料是百分百桑蚕丝非常亲肤透气而且垂感特别好穿上很显瘦今天直播间"
    words = words_of([(ch, i * 0.2, i * 0.2 + 0.18) for i, ch in enumerate(text)])
    cues = build_cues(words, {len(text) - 1}, 0.0, 10.0, CFG)
    lines = [line for c in cues for line in c.lines]
    assert "".join(lines) == text
    assert all(len(line) <= CFG.max_line_chars_cjk for line in lines)
    assert all(len(c.lines) <= CFG.max_lines for c in cues)


def test_english_lines_break_between_words():
    words = words_of([(f" word{i}", i * 0.3, i * 0.3 + 0.25) for i in range(20)])
    cues = build_cues(words, {19}, 0.0, 7.0, CFG)
    for c in cues:
        for line in c.lines:
            assert len(line) <= CFG.max_line_chars_latin
            assert all(tok.startswith("word") for tok in line.split())


def test_ass_uses_output_resolution_and_cjk_font(tmp_path):
    words = words_of([("面料", 0.0, 0.5), ("很软", 0.5, 1.0)])
    subs = to_ssa(build_cues(words, {1}, 0.0, 2.0, CFG), CFG)
    path = tmp_path / "x.ass"
    subs.save(str(path))
    again = pysubs2.load(str(path))
    assert again.info["PlayResX"] == "1080" and again.info["PlayResY"] == "1920"
    assert again.styles["Default"].fontname == "Noto Sans CJK SC"
    assert [e.plaintext for e in again if e.style == "Default"] == ["面料很软"]
    assert [e.plaintext for e in again if e.style == "Label"] == ["AI生成 · AI-generated"]  # on by default


def test_font_coverage_names_the_missing_character():
    check_coverage("面料很软 Soft fabric, 100%!", CFG.font)
    assert missing_glyphs("ok 😀", CFG.font) == ["😀"]
    with pytest.raises(RenderError, match="U\\+1F600"):
        check_coverage("ok 😀", CFG.font)


def test_argv_seeks_on_the_input_and_maps_audio():
    argv = render_argv(VIDEO, 3500.25, 30.0, CFG, Path("/out/c001.mp4"))
    i_ss, i_in = argv.index("-ss"), argv.index("-i")
    assert i_ss < i_in and argv[i_ss + 1] == "3500.250"  # input seek: cost independent of position
    assert argv[i_in + 1] == VIDEO.path  # spaces and CJK pass through as one argv item, unquoted
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-c:a") + 1] == "aac"
    maps = [argv[i + 1] for i, a in enumerate(argv) if a == "-map"]
    assert maps == ["[v]", "[a]"]
    assert "[0:a]aresample=async=1" in argv[argv.index("-filter_complex") + 1]
    assert argv[-1] == "/out/c001.mp4" and argv[-3:-1] == ["-f", "mp4"]


def test_audio_only_sources_get_a_colour_frame():
    argv = render_argv(AUDIO_ONLY, 10, 20, CFG, Path("/out/c.mp4"))
    assert "lavfi" in argv and any(a.startswith("color=c=") for a in argv)
    assert video_graph(CFG, has_video=False).startswith("[1:v]")


@pytest.mark.parametrize("layout,needle", [("blur", "boxblur"), ("crop", "crop=1080:1920"), ("fit", "pad=1080:1920")])
def test_layouts(layout, needle):
    cfg = CFG.model_copy(update={"layout": layout})
    graph = video_graph(cfg, has_video=True)
    assert needle in graph and graph.endswith("subtitles=f=subs.ass[v]")
    assert "subtitles" not in video_graph(cfg, has_video=True, subtitles=False)


def test_subject_following_reports_a_decode_failure(tmp_path):
    """An ffmpeg failure while sampling frames is an FFmpegError, not "no frames" (a silent centre crop)."""
    import pytest

    from clipper.config import load_config
    from clipper.errors import FFmpegError
    from clipper.render.reframe import follow_subject
    from clipper.types import MediaInfo

    bad = tmp_path / "not video.mp4"
    bad.write_bytes(b"\x00" * 4096)
    info = MediaInfo(str(bad), 10.0, 4096, "mov", True, True, 1280, 720)
    with pytest.raises(FFmpegError, match="follow the subject"):
        follow_subject(info, 0.0, 5.0, load_config().render)


def test_the_gain_is_read_off_where_the_limited_loudness_crosses_the_target():
    from clipper.render.audio import gain_for

    gains = [6.0, 7.0, 8.0, 10.0]
    assert gain_for(-14.0, gains, [-15.0, -14.5, -14.0, -13.0]) == pytest.approx(8.0)
    assert gain_for(-14.0, gains, [-15.0, -14.6, -14.2, -13.4]) == pytest.approx(8.5)
    assert gain_for(-14.0, gains, [-16.0, -15.6, -15.2, -14.4]) == pytest.approx(10.4)  # past the end: 1:1
    assert gain_for(-14.0, gains, [-13.5, -13.0, -12.5, -11.5]) == pytest.approx(5.5)   # before the start
    assert gain_for(-14.0, gains, [None, -14.5, None, -13.5]) == pytest.approx(8.5)     # silent measures left out


def test_loudness_is_measured_at_every_gain_in_one_audio_only_pass(sample_stream):
    """Two short passes (the level, then the limited level at a few gains), and the render
    at the gain found lands on the target."""
    from clipper.render.audio import STEPS_DB, _levels, levels_argv, measure

    argv = levels_argv(sample_stream, 11.0, 8.0, [None, 6.0, 7.0])
    assert "-map" in argv and argv[argv.index("-map") + 1] == "[out]" and "0:v" not in " ".join(argv)
    got = measure(sample_stream, 11.0, 8.0, -14.0)
    assert -30 < got["input_i"] < -10
    assert len(STEPS_DB) >= 2
    assert _levels(sample_stream, 11.0, 8.0, [got["gain_db"]])[0] == pytest.approx(-14.0, abs=0.3)


def test_the_frame_rate_changes_where_it_costs_least():
    slow = video_graph(CFG, has_video=True, source_fps=25.0)
    assert slow.endswith(f"subtitles=f=subs.ass,fps={CFG.fps:g}[v]") and slow.count("fps=") == 1
    fast = video_graph(CFG, has_video=True, source_fps=60.0)
    assert fast.startswith(f"[0:v]fps={CFG.fps:g},") and fast.count("fps=") == 1


def test_the_blur_fits_small_frames():
    small = load_config(overrides={"render": {"width": 216, "height": 384}}).render
    assert "boxblur=5:2" in video_graph(small, has_video=True)
    assert "boxblur=8:2" in video_graph(CFG, has_video=True)


def test_the_cover_comes_from_the_render_itself():
    argv = render_argv(VIDEO, 10, 20, CFG, Path("/out/c.mp4"), cover=(1.5, Path("/tmp/cover.jpg")))
    graph = argv[argv.index("-filter_complex") + 1]
    assert "[picture]split=2[v][c];[c]trim=start=1.500:end=2.500" in graph
    i = argv.index("[cover]")
    assert argv[i + 1:i + 3] == ["-frames:v", "1"] and argv.index("/tmp/cover.jpg") < argv.index("[v]")
    assert argv[-1] == "/out/c.mp4"
