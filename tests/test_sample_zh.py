"""clipper run on the Mandarin sample stream, end to end, checked against the script's truth.

The sample (scripts/make_sample_zh.py) is two Kokoro voices selling three apparel products;
the third is taken up without any "next product" phrase, and the camera cuts inside sentences.
One pipeline run serves every test here (Whisper base, greedy: the fastest Mandarin setting;
a small, fast encode). A missing sample is a failure, not a skip: scripts/test.sh generates it.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import jsonschema
import pytest

from conftest import ROOT, SHARED, ffprobe

pytestmark = pytest.mark.slow
FRAME = (270, 480)   # a quarter of the frame each way: what is checked is text, edges and tags


def _zh_config():
    from clipper import load_config
    from clipper.config import TranscribeConfig

    transcribe = {"model": "base", "language": "zh", "beam_size": 1}
    # Greedy and without hotwords, where this version of clipper has the Mandarin-only settings
    # (beam_size_zh 0 = beam_size): a third of the default's decoding time.
    for key, value in {"beam_size_zh": 0, "hotwords": False}.items():
        if key in TranscribeConfig.model_fields:
            transcribe[key] = value
    # A quarter of the frame each way with the type scaled to match, and no loudness pass: the
    # 1080x1920 frame and the loudness are the English end-to-end test's to check; this run is
    # about Mandarin (render 36 s -> 16 s at half the frame, less again at a quarter). The
    # picture cropped, not laid on its blurred copy, at 15 fps, with 32k sound at 16 kHz (the
    # English test checks layout, frame rate and sound): its four clips in 6.2 s, not 10.3 s.
    render = {"jobs": 2, "preset": "ultrafast", "width": FRAME[0], "height": FRAME[1], "loudness": 0.0,
              "font_size": 17, "title_size": 18, "margin_v": 75, "margin_h": 20, "layout": "crop", "fps": 15,
              "audio_bitrate": "32k", "audio_rate": 16000}
    return load_config(overrides={"transcribe": transcribe, "render": render})


@pytest.fixture(scope="module")
def zh_truth() -> dict:
    import make_sample_zh

    stream = make_sample_zh.build()  # a no-op when scripts/test.sh has built it; raises if it cannot
    truth = json.loads(make_sample_zh.TRUTH.read_text(encoding="utf-8"))
    truth["path"] = stream
    return truth


@pytest.fixture(scope="module")
def zh_run(zh_truth, tmp_path_factory):
    """The one run. Under pytest-xdist the first worker makes it in a shared folder and the
    others re-run on a copy, which takes every stage from the work folder (as conftest's sample_run)."""
    from filelock import FileLock

    from clipper import Pipeline

    config = _zh_config()
    out = tmp_path_factory.mktemp("sample zh run")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return Pipeline(config).run(zh_truth["path"], out)
    shared = tmp_path_factory.getbasetemp().parent / "sample zh run (all workers)"
    with FileLock(f"{shared}.lock"):
        if not (shared / "manifest.json").is_file():
            Pipeline(config).run(zh_truth["path"], shared)
    shutil.copytree(shared, out, symlinks=True, dirs_exist_ok=True)
    return Pipeline(config).run(zh_truth["path"], out)


def _selling(truth: dict, product: int | None = None) -> list[dict]:
    return [ln for ln in truth["lines"] if ln["label"] == "SELLING_POINT" and product in (None, ln["product"])]


def _covered(clip, lines: list[dict]) -> list[dict]:
    """The script's lines a clip holds (by the middle of each line, as the English test)."""
    return [ln for ln in lines if clip.start - 0.5 <= (ln["start"] + ln["end"]) / 2 <= clip.end]


def test_every_products_selling_points_are_clipped_and_products_told_apart(zh_run, zh_truth):
    assert zh_run.transcript.language == "zh" and zh_run.manifest["language"] == "zh"
    clips = zh_run.plan.clips
    for clip in clips:
        assert clip.kind == "selling_point" and clip.tags and clip.product >= 1
    products = sorted({ln["product"] for ln in _selling(zh_truth)})
    assert zh_truth["silent_switches"], "the sample takes up a product silently"
    numbers: dict[int, set[int]] = {}
    for product in products:
        lines = _selling(zh_truth, product)
        spans = [(c.start, c.end) for c in clips if _covered(c, lines)]
        covered = [ln for ln in lines if any(s - 0.5 <= (ln["start"] + ln["end"]) / 2 <= e for s, e in spans)]
        assert len(covered) >= len(lines) - 1, (product, spans, [ln["text"] for ln in lines if ln not in covered])
        numbers[product] = {c.product for c in clips if _covered(c, lines)}
    # Told apart: one number for each product's clips, a different one for each product
    # (the silently taken-up product included); the numbers themselves are the pipeline's.
    assert all(len(n) == 1 for n in numbers.values()), numbers
    assert len({n.pop() for n in numbers.values()}) == len(products), numbers


def test_no_clip_edge_falls_inside_a_sentence(zh_run, zh_truth):
    sentences = zh_run.sentences.sentences
    for clip in zh_run.plan.clips:
        # The pipeline's own sentences: whole, as in the English test.
        edges = next(c["edges"] for c in zh_run.manifest["clips"] if c["id"] == clip.id)
        for s in sentences:
            for side, t in (("start", clip.start), ("end", clip.end)):
                if s.start < t < s.end:
                    # The one exception: the sound showed that the recogniser's first word began
                    # early (it swallowed the pause before it), and the edge moved into that pause.
                    assert "past the recogniser's word times" in edges.get(side, "") \
                        and t < zh_run.transcript.words[s.first_word].end, (clip.id, f"{side} inside", s.text)
        inside = [s.id for s in sentences if clip.start <= (s.start + s.end) / 2 <= clip.end]
        assert set(inside) == set(clip.sentence_ids)
        # The script's sentences: an edge falls between two of them, never inside one, not even
        # where the voice breathes at a comma of a long run-on line (the recogniser's splitter
        # cuts there, and the pieces can carry different tags: the planner changes subject only
        # where the host ends a thought). 0.05 s: the voice's own fade at a line's ends.
        for edge, which in ((clip.start, "start"), (clip.end, "end")):
            for ln in zh_truth["lines"]:
                assert not (ln["start"] + 0.05 < edge < ln["end"] - 0.05), \
                    (clip.id, which, edge, (ln["start"], ln["end"]), ln["text"])


def test_no_clip_edge_lies_in_speech_measured_on_the_sound(zh_run):
    """Not on the recogniser's times: on the audio itself (20 ms frame energy around each edge)."""
    from clipper.edge_silence import edges_in_speech

    assert zh_run.plan.clips
    assert not edges_in_speech(zh_run.plan.clips, Path(zh_run.media.path), _zh_config().plan)


def test_clip_tags_match_the_script(zh_run, zh_truth):
    vocab = set(tomllib.loads((ROOT / "configs" / "categories" / "apparel.toml").read_text())["tags"]) | {"other"}
    assert zh_run.manifest["segmentation"]["category"] == "apparel"
    right = total = 0
    for clip in zh_run.plan.clips:
        assert set(clip.tags) <= vocab, clip.tags
        truth_tags = {t for ln in _covered(clip, _selling(zh_truth)) for t in ln["tags"]}
        assert truth_tags & set(clip.tags), (clip.id, clip.tags, truth_tags)
        right += len(set(clip.tags) & truth_tags)
        total += len(clip.tags)
    assert right / total >= 0.6, (right, total)


def test_output_folder_contract_with_chinese_subtitles(zh_run):
    import pysubs2

    out = zh_run.out_dir
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    schema_file = SHARED / "manifest.schema.json"
    schema = json.loads((schema_file if schema_file.is_file() else ROOT / "clipper" / "manifest.schema.json").read_text())
    jsonschema.validate(manifest, schema)
    assert manifest["clips"]
    for clip in manifest["clips"]:
        info = ffprobe(out / clip["file"])
        video = [s for s in info["streams"] if s["codec_type"] == "video"]
        assert (video[0]["width"], video[0]["height"]) == FRAME
        assert abs(float(info["format"]["duration"]) - (clip["end"] - clip["start"])) <= 0.3
        cues = pysubs2.load(str(Path(out / clip["subtitles"])))
        text = "".join(cue.plaintext for cue in cues)
        assert sum("\u4e00" <= ch <= "\u9fff" for ch in text) > 0.8 * len(text.replace(" ", "")), text
