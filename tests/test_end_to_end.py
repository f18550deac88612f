"""clipper run on the synthetic sample stream, end to end with real ffmpeg, Whisper and PySceneDetect."""

import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from conftest import SHARED, ffprobe, frame

pytestmark = pytest.mark.slow


def test_python_api_example(sample_run, sample_truth):
    # What a content team's script looks like:
    #   result = Pipeline(load_config(overrides=...)).run("stream.mp4", "out/")
    result = sample_run
    assert result.manifest_path.name == "manifest.json"
    assert result.transcript.language == "en"
    for clip in result.plan.clips:
        assert clip.kind == "selling_point" and clip.tags and clip.product >= 1
    # One selling-point clip (at least) per product of the sample's script.
    products = {line["product"] for line in sample_truth["lines"] if line["label"] == "SELLING_POINT"}
    assert {c.product for c in result.plan.clips} == products
    # Each product's clip covers that product's selling-point speech (by the script's timings).
    for product in products:
        spans = [(c.start, c.end) for c in result.plan.clips if c.product == product]
        lines = [ln for ln in sample_truth["lines"] if ln["product"] == product and ln["label"] == "SELLING_POINT"]
        covered = [ln for ln in lines if any(s - 0.5 <= (ln["start"] + ln["end"]) / 2 <= e for s, e in spans)]
        assert len(covered) >= len(lines) - 1, (product, spans)


def test_output_folder_contract(sample_run):
    out = sample_run.out_dir
    manifest = json.loads((out / "manifest.json").read_text())
    schema_file = SHARED / "manifest.schema.json"
    schema = json.loads(schema_file.read_text()) if schema_file.is_file() else \
        json.loads((Path(__file__).parent.parent / "clipper" / "manifest.schema.json").read_text())
    jsonschema.validate(manifest, schema)
    assert manifest["clips"], "the sample has selling points"
    for clip in manifest["clips"]:
        mp4, srt = out / clip["file"], out / clip["subtitles"]
        assert mp4.is_file() and srt.is_file()
        info = ffprobe(mp4)
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
        assert video[0]["codec_name"] == "h264" and audio[0]["codec_name"] == "aac"
        assert (video[0]["width"], video[0]["height"]) == (1080, 1920)
        assert abs(float(info["format"]["duration"]) - (clip["end"] - clip["start"])) <= 0.3
        assert 8 <= clip["end"] - clip["start"] <= 61
    assert not [p for p in (out / "clips").iterdir() if p.name.startswith(".")], "no temp files left"


def test_no_clip_edge_falls_inside_a_sentence(sample_run):
    sentences = sample_run.sentences.sentences
    for clip in sample_run.plan.clips:
        for s in sentences:
            assert not (s.start < clip.start < s.end), (clip.id, "start inside", s.text)
            assert not (s.start < clip.end < s.end), (clip.id, "end inside", s.text)
        ids = set(clip.sentence_ids)
        inside = [s.id for s in sentences if clip.start <= s.start and s.end <= clip.end]
        assert set(inside) == ids  # exactly its own sentences, whole


def test_subtitles_are_visible_in_the_frames(sample_run):
    import pysubs2

    from clipper import load_config
    from clipper.render.layout import video_graph

    cfg = load_config().render
    clip = sample_run.plan.clips[0]
    mp4 = sample_run.out_dir / "clips" / f"{clip.id}.mp4"
    cue = pysubs2.load(str(mp4.with_suffix(".srt")))[0]
    t = (cue.start + cue.end) / 2000
    rendered = frame(mp4, t).astype(int)
    # The same moment of the source through the same layout, without subtitles.
    plain = frame(Path(sample_run.media.path), clip.start + t,
                  graph=video_graph(cfg, has_video=True, subtitles=False)).astype(int)
    assert rendered.shape == plain.shape == (1920, 1080, 3)
    band = slice(1920 - cfg.margin_v - 2 * cfg.font_size, 1920 - cfg.margin_v + 10)
    in_band = np.abs(rendered[band] - plain[band]).mean()
    elsewhere = np.abs(rendered[:1000] - plain[:1000]).mean()
    assert in_band > 8 and in_band > 4 * elsewhere, (in_band, elsewhere)


def test_rerun_reuses_the_transcript_and_gives_the_same_manifest(sample_run, fast_config):
    from clipper import Pipeline

    again = Pipeline(fast_config).run(sample_run.media.path, sample_run.out_dir)
    assert {"transcript", "segments", "shots"} <= set(again.reused)
    assert f"{len(sample_run.clips)} clips" in again.reused   # nothing rendered again
    strip = lambda m: {k: v for k, v in m.items() if k != "timings"}  # noqa: E731
    assert strip(again.manifest) == strip(sample_run.manifest)
