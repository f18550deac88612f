"""Real recordings from ../shared/media (skipped when absent): Mandarin, rotation, audio-only."""

import numpy as np
import pytest

from clipper import Pipeline, load_config
from clipper.text import cjk_count
from conftest import frame, shared_media

pytestmark = [pytest.mark.slow, pytest.mark.shared]

EVERYTHING = {"segment": {"kinds": ["selling_point", "promo", "chatter"]},
              "plan": {"min_seconds": 3.0, "keep_short": True}}


def test_mandarin_gives_chinese_text_with_the_base_model(tmp_path):
    from clipper.workspace import Workspace

    src = shared_media("zh_asr_example_6s.wav")
    pipeline = Pipeline(load_config())  # default: multilingual base, language auto
    transcript, _ = pipeline.transcribe(pipeline.probe(src), Workspace(tmp_path))
    assert transcript.language == "zh"
    reference = "欢迎大家来体验达摩院推出的语音识别模型"
    text = "".join(w.text for w in transcript.words)
    assert cjk_count(text) >= 10
    assert sum(ch in text for ch in reference) >= len(reference) * 0.6, text
    # Whisper base loops on the clip's last second with beam 5 (448 tokens, compression ratio
    # 33): without the fallback that segment is dropped, not sampled four more times or kept.
    assert len(text) < 2 * len(reference), text


def test_long_mandarin_is_transcribed_window_by_window(tmp_path):
    from clipper.workspace import Workspace

    src = shared_media("zh_ecom_seller_training_talk_70s.wav")
    # Windowing is the point here: greedy decoding (Chinese decodes with beam 5 by default).
    cfg = load_config(overrides={"transcribe": {"chunk_seconds": 30, "language": "zh", "beam_size_zh": 1,
                                                "redecode_dropped": False}})
    pipeline = Pipeline(cfg)
    transcript, _ = pipeline.transcribe(pipeline.probe(src), Workspace(tmp_path))
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts), "words stay in order across windows"
    assert transcript.words[-1].end > 60 and cjk_count("".join(w.text for w in transcript.words)) > 150
    assert any(w.start > 30 for w in transcript.words) and any(w.start < 30 for w in transcript.words)
    assert not (tmp_path / ".clipper" / "audio.wav").exists(), "the temporary audio is removed"


def test_rotated_video_renders_upright(tmp_path):
    src = shared_media("vid_en_goldeneye_cuts_rot90_10s.mp4")  # 1280x544 stored, rotation -90
    # ultrafast, no loudness pass: what is checked is where the picture lies in the frame.
    cfg = load_config(overrides={**EVERYTHING, "transcribe": {"model": "tiny.en"},
                                 "render": {"layout": "fit", "preset": "ultrafast", "loudness": 0.0}})
    result = Pipeline(cfg).run(src, tmp_path / "out")
    assert result.media.rotation in (90, 270) and (result.media.width, result.media.height) == (544, 1280)
    assert result.clips
    img = frame(result.out_dir / result.clips[0].file, 1.0).astype(int)
    # Upright, the 544x1280 picture letterboxes to 816x1920: black side bars, picture top to bottom.
    # Sideways it would be 1080x459 with black bars above and below.
    def lit(region):  # share of pixels that are not letterbox black
        return (region.max(axis=2) > 24).mean()

    assert lit(img[:, :120]) < 0.01 and lit(img[:, -120:]) < 0.01
    assert lit(img[:200, 300:780]) > 0.05 and lit(img[-200:, 300:780]) > 0.05


def test_chinese_audio_renders_with_chinese_subtitles(tmp_path):
    src = shared_media("zh_news_foxconn_8s.wav")  # audio only: clips get a plain frame
    # What is drawn is the point: greedy decoding (tests/test_mandarin_asr.py covers the default's).
    fast = {**EVERYTHING, "transcribe": {"beam_size_zh": 1, "redecode_dropped": False},
            "render": {"preset": "ultrafast", "loudness": 0.0}}
    result = Pipeline(load_config(overrides=fast)).run(src, tmp_path / "输出 folder")
    assert result.clips
    clip = result.clips[0]
    srt = (result.out_dir / clip.subtitles).read_text(encoding="utf-8")
    assert cjk_count(srt) >= 8
    img = frame(result.out_dir / clip.file, min(2.0, clip.duration / 2)).astype(int)
    background = np.array([0x14, 0x14, 0x1c])
    cfg = load_config().render
    band = img[1920 - cfg.margin_v - 2 * cfg.font_size:1920 - cfg.margin_v + 10]
    # White glyphs with black outline drawn on the plain background: many pixels far from it.
    assert (np.abs(band - background).sum(axis=2) > 150).mean() > 0.01
    assert np.abs(img[:600] - background).mean() < 4
