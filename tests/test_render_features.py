"""What makes a clip postable: presets, loudness, covers, the AI label, title, logo, music,
subject-following crop, karaoke. Rendering runs for real on short stretches of the sample."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from clipper.config import available_presets, load_config
from clipper.errors import ConfigError, RenderError
from clipper.media.probe import probe
from clipper.render.clip import clip_title, render_clip
from clipper.render.reframe import smooth_path
from clipper.types import ClipSpec, Sentence, Transcript, Word
from conftest import frame

pytestmark = pytest.mark.slow


def script(text: str, start: float, end: float):
    """A transcript of evenly spaced words (the renderer needs words, not a recogniser)."""
    tokens = text.split(" ") if " " in text else list(text)
    step = (end - start) / len(tokens)
    words = tuple(Word((" " if " " in text else "") + t, round(start + i * step, 3),
                       round(start + (i + 0.9) * step, 3)) for i, t in enumerate(tokens))
    sentence = Sentence("s00001", start, end, text, 0, len(words) - 1)
    return Transcript("en", 1.0, 100.0, "test", words, ()), [sentence]


CLIP = ClipSpec("c001", "selling_point", ("fabric",), 1, 11.0, 17.0, ("s00001",), "The fabric")


def render(sample_stream, tmp_path, text="The fabric of this shirt is washed linen", **render_cfg):
    transcript, sentences = script(text, 11.3, 16.6)
    cfg = load_config(overrides={"render": {"preset": "ultrafast", **render_cfg}}).render
    return render_clip(probe(sample_stream), CLIP, transcript, sentences, cfg, tmp_path / "clips"), cfg


@pytest.mark.parametrize("preset", available_presets())
def test_every_preset_renders_its_frame(preset, sample_stream, tmp_path):
    cfg = load_config(preset=preset).render
    transcript, sentences = script("The fabric of this shirt", 11.2, 12.8)
    # The frame is the point here: a 2 s clip, no loudness passes or cover (tested above).
    fast = cfg.model_copy(update={"preset": "ultrafast", "loudness": 0.0, "cover": False})
    short = ClipSpec("c001", "selling_point", ("fabric",), 1, 11.0, 13.0, ("s00001",), "The fabric")
    out = render_clip(probe(sample_stream), short, transcript, sentences, fast, tmp_path / "clips")
    got = probe(tmp_path / out.file)
    assert (got.width, got.height) == (cfg.width, cfg.height) and got.has_audio


def test_presets_cover_the_platforms():
    assert {"douyin", "tiktok", "xiaohongshu", "taobao", "taobao-square", "youtube-shorts",
            "instagram-reels"} <= set(available_presets())
    assert (load_config(preset="xiaohongshu").render.height, load_config(preset="taobao-square").render.height) \
        == (1440, 1080)


def loudness(path: Path) -> float:
    err = subprocess.run(["ffmpeg", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    return float([ln for ln in err.splitlines() if ln.strip().startswith("I:")][-1].split()[1])


def test_loudness_cover_title_and_ai_label(sample_stream, tmp_path):
    out, cfg = render(sample_stream, tmp_path)
    assert abs(loudness(tmp_path / out.file) - (-14.0)) <= 1.5
    cover = tmp_path / out.cover
    assert cover.is_file() and cover.read_bytes()[:2] == b"\xff\xd8"  # a JPEG
    assert out.title == "面料 · Fabric"
    # Title and label are drawn: compare with the same clip rendered without them.
    off, _ = render(sample_stream, tmp_path / "off", title=False, ai_label=False)
    with_both, without = frame(tmp_path / out.file, 2.0).astype(int), frame(tmp_path / "off" / off.file, 2.0).astype(int)
    def changed(box):  # share of pixels that differ visibly
        return (np.abs(with_both[box] - without[box]).max(axis=2) > 40).mean()

    label_box = (slice(0, 160), slice(cfg.width // 2, cfg.width))   # top-right corner
    title_box = (slice(int(cfg.height * 0.08), int(cfg.height * 0.14)), slice(200, cfg.width - 200))
    rest = (slice(700, 1200), slice(0, cfg.width))
    assert changed(label_box) > 0.01
    assert changed(title_box) > 0.1
    assert changed(rest) < 0.001


def test_missing_glyph_fails_naming_the_character(sample_stream, tmp_path):
    with pytest.raises(RenderError, match="U\\+1F9F5"):
        render(sample_stream, tmp_path, text="The fabric 🧵 is linen")
    assert not (tmp_path / "clips" / "c001.mp4").exists()


def test_logo_music_karaoke_and_subject_crop_render(sample_stream, tmp_path):
    logo, music = tmp_path / "logo.png", tmp_path / "bed.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=200x80", "-frames:v", "1",
                    str(logo)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=220:d=4", str(music)], check=True)
    out, cfg = render(sample_stream, tmp_path, logo=str(logo), music=str(music), karaoke=True,
                      layout="crop", follow="subject")
    img = frame(tmp_path / out.file, 1.0).astype(int)
    corner = img[cfg.margin_h:cfg.margin_h + 60, cfg.margin_h:cfg.margin_h + 150]
    assert corner[..., 0].mean() > 150 and corner[..., 1].mean() < 100  # the red logo, top-left
    assert abs(loudness(tmp_path / out.file) - (-14.0)) <= 2.0  # music bed ducked under speech


def test_title_template_fields():
    cfg = load_config(overrides={"render": {"title_template": "#{product} {tag_en}"}}).render
    assert clip_title(CLIP, cfg) == "#1 Fabric"
    with pytest.raises(ConfigError, match="title_template"):   # refused when the config loads, not at render
        load_config(overrides={"render": {"title_template": "{nope}"}})
    bad = cfg.model_copy(update={"title_template": "{nope}"})      # settings made in code, unvalidated
    with pytest.raises(RenderError, match="title_template"):
        clip_title(CLIP, bad)


def test_subject_path_is_smooth_and_speed_limited():
    path = smooth_path([0.2] * 10 + [0.8] * 10)
    steps = np.abs(np.diff(path))
    assert steps.max() <= 0.15 / 2 + 1e-9   # MAX_SPEED per sample at 2 samples a second
    assert path[0] < 0.3 and path[-1] > 0.7


def test_subject_following_finds_a_real_face(tmp_path):
    from conftest import shared_media
    from clipper.render.reframe import _face_detector, centres

    src = shared_media("vid_en_talking_head_katiehill_8s.mp4")
    if _face_detector() is None:
        pytest.skip("this OpenCV has no face cascade")
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", "2", "-i", str(src), "-frames:v", "3", "-vf",
                          "fps=2,scale=256:256", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    faces = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 256, 256)
    for offset, expected in ((0, 1 / 6), (512, 5 / 6)):  # the face on the left, then the right, of a wide frame
        canvas = np.zeros((len(faces), 256, 768), dtype=np.uint8)
        canvas[:, :, offset:offset + 256] = faces
        assert all(abs(c - expected) < 0.08 for c in centres(canvas))


def test_relative_output_folder(sample_stream, tmp_path, monkeypatch):
    # `clipper run x.mp4 --out out/sample` from the repo root: ffmpeg runs in a temp folder.
    monkeypatch.chdir(tmp_path)
    transcript, sentences = script("The fabric of this shirt is washed linen", 11.3, 16.6)
    cfg = load_config(overrides={"render": {"preset": "ultrafast", "loudness": 0.0}}).render
    out = render_clip(probe(sample_stream), CLIP, transcript, sentences, cfg, Path("out") / "sample" / "clips")
    assert (tmp_path / "out" / "sample" / out.file).is_file()
