"""The implicit AI label (GB 45438-2025, annex E): an AIGC JSON field in every clip and remix MP4,
read back with ffprobe from real renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ffprobe

from clipper.config import load_config
from clipper.errors import ConfigError
from clipper.media.probe import probe
from clipper.remix import remix, remix_argv, select
from clipper.render.aigc import clip_produce_id, remix_produce_id
from clipper.render.clip import render_clip
from clipper.render.command import render_argv
from clipper.types import ClipSpec, MediaInfo, Sentence, Transcript, Word
from clipper.workspace import fingerprint

KEYS = {"Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID",
        "ReservedCode2"}
SMALL = {"width": 360, "height": 640, "preset": "ultrafast", "loudness": 0.0, "cover": False}


def aigc_tag(path: Path) -> dict:
    """The AIGC field of an MP4, parsed (the tag's case is not relied on)."""
    tags = ffprobe(path)["format"].get("tags", {})
    found = [v for k, v in tags.items() if k.lower() == "aigc"]
    assert len(found) == 1, f"{path.name}: tags {sorted(tags)}"
    return json.loads(found[0])


def test_every_clip_of_a_run_carries_the_label(sample_run):
    clips = sample_run.manifest["clips"]
    assert len(clips) >= 2, "the sample makes several clips"
    fp = fingerprint(Path(sample_run.media.path))
    ids = []
    for clip, rendered in zip(clips, sample_run.clips):
        label = aigc_tag(sample_run.out_dir / clip["file"])
        assert set(label) == KEYS and all(isinstance(v, str) for v in label.values())
        assert label["Label"] == "1"                     # 1 = AI-generated
        assert label["ContentProducer"] == "clipper"     # the default aigc_producer
        assert label["ContentPropagator"] == label["PropagateID"] == ""   # none configured
        # The manifest and the RenderedClip record exactly what the file carries.
        assert clip["aigc"] == label and json.loads(rendered.aigc) == label
        # Recomputable from the recording and the cut: a re-render writes the same id.
        assert label["ProduceID"] == clip_produce_id(fp, clip["id"], clip["start"], clip["end"])
        # use_metadata_tags must not cost the title tag.
        assert ffprobe(sample_run.out_dir / clip["file"])["format"]["tags"]["title"]
        ids.append(label["ProduceID"])
    assert len(set(ids)) == len(ids)


def test_produce_id_is_stable_and_tied_to_the_cut():
    a = clip_produce_id("f" * 20, "c001", 12.0, 30.5)
    assert a == clip_produce_id("f" * 20, "c001", 12.0, 30.5) == clip_produce_id("f" * 20, "c001", 12.0001, 30.5)
    assert len({a, clip_produce_id("e" * 20, "c001", 12.0, 30.5), clip_produce_id("f" * 20, "c002", 12.0, 30.5),
                clip_produce_id("f" * 20, "c001", 12.5, 30.5)}) == 4
    assert remix_produce_id([a], 0.5, "", "", "") != remix_produce_id([a], 0.0, "", "", "")


def test_remix_of_two_clips_carries_its_own_label(sample_run, tmp_path):
    cfg = load_config(overrides={"render": SMALL})
    picks = select([sample_run.manifest_path])[:2]
    assert len(picks) == 2
    out = tmp_path / "remix 混剪.mp4"
    manifest = remix(picks, cfg, out, transition=0.3)
    label = aigc_tag(out)
    assert set(label) == KEYS and label["Label"] == "1" and label["ContentProducer"] == "clipper"
    assert manifest["aigc"] == label
    clip_ids = {c["aigc"]["ProduceID"] for c in sample_run.manifest["clips"]}
    assert label["ProduceID"] not in clip_ids
    assert label["ProduceID"] == remix_produce_id([p.produce_id for p in picks], 0.3, "", "", "")
    assert [p.produce_id for p in picks] == [c["aigc"]["ProduceID"] for c in sample_run.manifest["clips"][:2]]


VIDEO = MediaInfo(path="/media/stream.mp4", duration=3600, size_bytes=1, format_name="mp4",
                  has_video=True, has_audio=True, width=1920, height=1080)


def metadata_values(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-metadata"]


def test_argv_with_the_label_off_has_no_aigc():
    on = load_config().render
    off = load_config(overrides={"render": {"aigc_label": False}}).render
    argv = render_argv(VIDEO, 10, 20, on, Path("/out/c.mp4"), produce_id="pid-1")
    assert argv[argv.index("-movflags") + 1] == "+faststart+use_metadata_tags"
    assert any(v.startswith("AIGC=") and json.loads(v[5:])["ProduceID"] == "pid-1" for v in metadata_values(argv))
    argv = render_argv(VIDEO, 10, 20, off, Path("/out/c.mp4"), produce_id="pid-1", title="t")
    assert argv[argv.index("-movflags") + 1] == "+faststart"
    assert not any("AIGC" in a for a in argv) and metadata_values(argv) == ["title=t"]
    # Without a ProduceID from the caller the label still has a non-empty one.
    argv = render_argv(VIDEO, 10, 20, on, Path("/out/c.mp4"))
    assert json.loads(next(v for v in metadata_values(argv) if v.startswith("AIGC="))[5:])["ProduceID"]
    cfg_off = load_config(overrides={"render": {"aigc_label": False}})
    argv = remix_argv([("a.mp4", 10.0), ("b.mp4", 10.0)], cfg_off, 0.5, Path("/out/r.mp4"))
    assert not any("AIGC" in a for a in argv) and argv[argv.index("-movflags") + 1] == "+faststart"


TRICKY = "Acme \"直播\" 工作室 = A:B; 'x' \\n $HOME `id` ,{}"


def test_producer_with_quotes_cjk_and_separators_round_trips(sample_stream, tmp_path):
    cfg = load_config(overrides={"render": {**SMALL, "aigc_producer": TRICKY, "aigc_propagator": "店铺:旗舰=1",
                                            "aigc_reserved1": "r1=\"x\"", "aigc_reserved2": "直播:2"}}).render
    words = tuple(Word(f" w{i}", 11.3 + i * 0.5, 11.7 + i * 0.5) for i in range(8))
    transcript = Transcript("en", 1.0, 100.0, "test", words, ())
    clip = ClipSpec("c007", "selling_point", ("fabric",), 1, 11.0, 16.0, ("s00001",), "w")
    rendered = render_clip(probe(sample_stream), clip, transcript, [Sentence("s00001", 11.3, 15.2, "w", 0, 7)],
                           cfg, tmp_path / "clips")
    label = aigc_tag(tmp_path / rendered.file)
    assert label["ContentProducer"] == TRICKY
    assert (label["ContentPropagator"], label["ReservedCode1"], label["ReservedCode2"]) == \
        ("店铺:旗舰=1", "r1=\"x\"", "直播:2")
    assert label["PropagateID"] and label["PropagateID"] != label["ProduceID"]
    assert json.loads(rendered.aigc) == label


def test_label_config_is_validated():
    with pytest.raises(ConfigError, match="aigc_producer"):
        load_config(overrides={"render": {"aigc_producer": " "}})
    assert load_config(overrides={"render": {"aigc_label": False, "aigc_producer": ""}}).render.aigc_label is False
    with pytest.raises(ConfigError, match="control characters"):
        load_config(overrides={"render": {"aigc_propagator": "a\nb"}})
    with pytest.raises(ConfigError, match="aigc_typo"):
        load_config(overrides={"render": {"aigc_typo": "x"}})
