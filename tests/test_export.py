"""clipper export: each format written from the shared sample run, then read back and checked
against the manifest, the clips' .srt files and the scene cuts (never against the exporter's
own intermediate values). Exports of the shared run go to tmp_path; anything that changes a
run folder works on a copy of it.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pysubs2
import pytest

from clipper.errors import InputError, WorkspaceError
from clipper.export import FORMATS, export_run, write_timeline
from clipper.export.run import timeline_rate

pytestmark = pytest.mark.slow


# -- what the run says, read independently of clipper.export ---------------------------------
def manifest_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def rate_of(run_dir: Path) -> float:
    return json.loads((run_dir / ".clipper" / "media.json").read_text())["value"]["fps"]


def cues_of(run_dir: Path, clip: dict) -> list[tuple[float, float, str]]:
    """(start, end, text) in seconds of the source: the .srt is timed from the clip's start."""
    subs = pysubs2.load(str(run_dir / clip["subtitles"]), encoding="utf-8")
    return [(clip["start"] + ev.start / 1000, clip["start"] + ev.end / 1000, ev.plaintext.strip())
            for ev in subs if ev.plaintext.strip()]


def cuts_in(run_dir: Path, clip: dict) -> list[float]:
    cuts = json.loads((run_dir / ".clipper" / "shots.json").read_text())["value"]["cuts"]
    return [t for t in cuts if clip["start"] - 1e-6 <= t < clip["end"] - 1e-6]


def flat(text: str) -> str:
    return " ".join(text.split())


def within_a_frame(seconds: float, expected: float, rate: float, frames: float = 0.5) -> bool:
    """An edge rounded to the nearest frame is at most half a frame off; a length, one."""
    return abs(seconds - expected) <= frames / rate + 1e-9


@pytest.fixture(scope="module")
def run_dir(sample_run) -> Path:
    m = manifest_of(sample_run.out_dir)
    assert len(m["clips"]) >= 2, "the sample should give several clips"
    return sample_run.out_dir


# -- units ------------------------------------------------------------------------------------
def test_timeline_rate_snaps_to_editors_rates():
    assert timeline_rate(25.0) == 25.0
    assert timeline_rate(30000 / 1001) == 30000 / 1001
    assert timeline_rate(29.83) == 30000 / 1001      # a variable-rate stream's average
    assert timeline_rate(15.0) == 15.0                # no standard rate near: its own, whole
    assert timeline_rate(0.0) == 30.0                 # unknown (audio only)


# -- OTIO -------------------------------------------------------------------------------------
def check_otio_timeline(tl: otio.schema.Timeline, run_dir: Path, clips: list[dict]) -> None:
    rate = timeline_rate(rate_of(run_dir))
    source = Path(manifest_of(run_dir)["source"]["path"])
    video = next(t for t in tl.video_tracks() if t.name == "Selects")
    items = [i for i in video if isinstance(i, otio.schema.Clip)]
    assert len(items) == len(video) == len(clips)          # back to back: no gaps
    record = 0.0
    for item, clip in zip(items, clips):
        rng = item.source_range
        assert rng.start_time.rate == rate
        assert within_a_frame(rng.start_time.to_seconds(), clip["start"], rate)
        assert within_a_frame(rng.end_time_exclusive().to_seconds(), clip["end"], rate)
        assert item.media_reference.target_url == source.as_uri()
        assert within_a_frame(item.media_reference.available_range.duration.to_seconds(),
                              manifest_of(run_dir)["source"]["duration"], rate)
        md = item.metadata["clipper"]
        assert (md["id"], md["kind"], list(md["tags"]), md["title"], md["text"], md["product"]) == \
            (clip["id"], clip["kind"], clip["tags"], clip["title"], clip["text"], clip["product"])
        assert md["review"] == clip.get("review", {}).get("state", "pending")
        assert md["score"] == pytest.approx(clip["score"])
        # scene cuts inside the clip: one marker each, at the cut's frame in the source
        scene = [m for m in item.markers if m.name == "scene cut"]
        assert [m.marked_range.start_time.to_seconds() for m in scene] == \
            pytest.approx(cuts_in(run_dir, clip), abs=0.5 / rate)
        assert within_a_frame(item.trimmed_range_in_parent().start_time.to_seconds(), record, rate)
        record += rng.duration.to_seconds()

    # subtitles: one item per cue, over its words
    subs = next(t for t in tl.video_tracks() if t.name == "Subtitles")
    got = [(subs.range_of_child(i).start_time.to_seconds(), subs.range_of_child(i).end_time_exclusive().to_seconds(),
            i.name) for i in subs if isinstance(i, otio.schema.Clip)]
    want, offset = [], 0.0
    for item, clip in zip(items, clips):
        start = item.source_range.start_time.to_seconds()
        want += [(offset + a - start, offset + b - start, text) for a, b, text in cues_of(run_dir, clip)]
        offset += item.source_range.duration.to_seconds()
    assert [flat(t) for *_, t in got] == [flat(t) for *_, t in want] and want
    for (a, b, _), (wa, wb, _) in zip(got, want):
        assert abs(a - wa) <= 1.0 / rate + 1e-9 and abs(b - wb) <= 1.0 / rate + 1e-9

    audio = tl.audio_tracks()
    assert len(audio) == 1 and [i.source_range for i in audio[0]] == [i.source_range for i in items]


def test_run_writes_timeline_otio(run_dir):
    path = run_dir / "timeline.otio"
    assert path.is_file()
    tl = otio.adapters.read_from_file(str(path))
    check_otio_timeline(tl, run_dir, manifest_of(run_dir)["clips"])


def test_sample_has_a_scene_cut_at_a_clip_edge(run_dir):
    # Keeps the marker checks above from passing on an empty list: the sample's scenes
    # change between passages and one clip starts on such a cut.
    assert any(cuts_in(run_dir, c) for c in manifest_of(run_dir)["clips"])
    assert any(c["edges"]["start"] == "scene" for c in manifest_of(run_dir)["clips"])


def test_otio_export_reads_back(run_dir, tmp_path):
    out = export_run(run_dir, "otio", tmp_path / "selects.otio")
    assert out == tmp_path / "selects.otio"
    check_otio_timeline(otio.adapters.read_from_file(str(out)), run_dir, manifest_of(run_dir)["clips"])
    assert not (run_dir / "exports").exists()


# -- FCP X ------------------------------------------------------------------------------------
def seconds(value: str) -> float:
    return float(Fraction(value.rstrip("s"))) if value != "0s" else 0.0


def test_fcpxml_export(run_dir, tmp_path):
    clips = manifest_of(run_dir)["clips"]
    rate = rate_of(run_dir)
    path = export_run(run_dir, "fcpxml", tmp_path / "t.fcpxml")
    root = ET.parse(path).getroot()
    assert root.tag == "fcpxml"
    fmt = root.find("resources/format")
    assert seconds(fmt.get("frameDuration")) == pytest.approx(1 / rate) and fmt.get("name") is None
    assert root.find("resources/asset").get("name") == Path(manifest_of(run_dir)["source"]["path"]).name
    spine = root.findall("project/sequence/spine/clip")
    assert len(spine) == len(clips) and not root.findall("asset-clip")
    total = 0.0
    for el, clip in zip(spine, clips):
        assert el.get("name").startswith(clip["id"])
        assert within_a_frame(seconds(el.get("start", "0s")), clip["start"], rate)
        assert within_a_frame(seconds(el.get("duration")), clip["end"] - clip["start"], rate, frames=1)
        assert seconds(el.get("offset")) == pytest.approx(total)
        total += seconds(el.get("duration"))
        values = [flat(m.get("value")) for m in el.findall("marker") if m.get("value") != "scene cut"]
        assert values == [flat(t) for *_, t in cues_of(run_dir, clip)]
        assert len(el.findall("clip[@lane='-1']")) == 1          # its sound
    assert seconds(root.find("project/sequence").get("duration")) == pytest.approx(total)

    tl = otio.adapters.read_from_file(str(path), adapter_name="fcpx_xml")
    # The adapter's reader turns "N/25s" into frames with int(N / 25 * 25.0), which for about
    # one N in twenty truncates to N - 1 (e.g. 29, 57, 113): a clip read a frame short, then a
    # one-frame gap before the next. The file holds whole frames (checked above); read back,
    # each edge is within the reader's frame of truncation and gaps are that frame only.
    video = [i for i in tl.video_tracks()[0] if not isinstance(i, otio.schema.Gap)]
    assert all(g.source_range.duration.value <= 1 for g in tl.video_tracks()[0] if isinstance(g, otio.schema.Gap))
    assert len(video) == len(clips)
    for item, clip in zip(video, clips):
        assert within_a_frame(item.source_range.start_time.to_seconds(), clip["start"], rate, frames=1.5)
        assert within_a_frame(item.source_range.end_time_exclusive().to_seconds(), clip["end"], rate, frames=2.5)
        assert sum(m.name == "scene cut" for m in item.markers) == len(cuts_in(run_dir, clip))


# -- FCP 7 ------------------------------------------------------------------------------------
def test_fcp7xml_export(run_dir, tmp_path):
    clips = manifest_of(run_dir)["clips"]
    rate = rate_of(run_dir)
    path = export_run(run_dir, "fcp7xml", tmp_path / "t.xml")
    root = ET.parse(path).getroot()
    assert root.tag == "xmeml"
    seq = root.find(".//sequence")
    assert int(seq.find("rate/timebase").text) == round(rate)
    tracks = seq.findall("media/video/track")
    assert len(tracks) == 2 and len(seq.findall("media/audio/track")) == 1
    items = tracks[0].findall("clipitem")
    assert len(items) == len(clips)
    for el, clip in zip(items, clips):
        assert within_a_frame(int(el.find("in").text) / rate, clip["start"], rate)
        assert within_a_frame(int(el.find("out").text) / rate, clip["end"], rate)
    assert int(seq.find("duration").text) == sum(int(el.find("duration").text) for el in items)
    texts = [flat(g.find("effect/parameter/value").text) for g in tracks[1].findall("generatoritem")]
    assert texts == [flat(t) for c in clips for *_, t in cues_of(run_dir, c)]
    assert {g.find("effect/effectid").text for g in tracks[1].findall("generatoritem")} == {"Text"}

    tl = otio.adapters.read_from_file(str(path), adapter_name="fcp_xml")
    video = tl.video_tracks()
    assert len(video) == 2 and len(tl.audio_tracks()) == 1
    assert [i.name for i in video[0]] == [f"{c['id']} {c['title']}".strip() for c in clips]
    for item, clip in zip(video[0], clips):
        assert within_a_frame(item.source_range.start_time.to_seconds(), clip["start"], rate)
        assert [m.name for m in item.markers] == ["scene cut"] * len(cuts_in(run_dir, clip))
    generated = [i for i in video[1] if isinstance(i, otio.schema.Clip)]
    assert all(isinstance(i.media_reference, otio.schema.GeneratorReference) for i in generated)
    assert len(generated) == len(texts)


# -- EDL --------------------------------------------------------------------------------------
EVENT = re.compile(r"^(\d{3})\s+(\S+)\s+(V|A|B|AA/V)\s+C\s+(\S+) (\S+) (\S+) (\S+)$")


def test_edl_export(run_dir, tmp_path):
    clips = manifest_of(run_dir)["clips"]
    rate = rate_of(run_dir)
    path = export_run(run_dir, "edl", tmp_path / "t.edl")
    events = [EVENT.match(line) for line in path.read_text().splitlines() if EVENT.match(line)]
    assert len(events) == len(clips)
    for ev, clip in zip(events, clips):
        src_in = otio.opentime.from_timecode(ev.group(4), rate).to_seconds()
        src_out = otio.opentime.from_timecode(ev.group(5), rate).to_seconds()
        assert within_a_frame(src_in, clip["start"], rate) and within_a_frame(src_out, clip["end"], rate)
    first = clips[0]
    frame = round(first["start"] * rate)
    assert events[0].group(4) == otio.opentime.to_timecode(otio.opentime.RationalTime(frame, rate), rate)
    assert events[0].group(6) == otio.opentime.to_timecode(otio.opentime.RationalTime(0, rate), rate)
    assert path.read_text().count("SCENE CUT") == sum(len(cuts_in(run_dir, c)) for c in clips)

    tl = otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=rate)
    assert [round(i.source_range.start_time.to_seconds() * rate) for i in tl.video_tracks()[0]] == \
        [round(c["start"] * rate) for c in clips]


# -- 剪映 --------------------------------------------------------------------------------------
def test_jianying_draft(run_dir, tmp_path):
    import pyJianYingDraft as jy

    m = manifest_of(run_dir)
    clips = m["clips"]
    draft = export_run(run_dir, "jianying", tmp_path / "drafts" / "my draft")
    assert draft == tmp_path / "drafts" / "my draft" and draft.is_dir()
    assert not [p for p in draft.parent.iterdir() if p.name.startswith(".")]     # no temp folder left
    content = json.loads((draft / "draft_content.json").read_text(encoding="utf-8"))
    meta = json.loads((draft / "draft_meta_info.json").read_text(encoding="utf-8"))
    assert meta["draft_name"] == "my draft" and meta["draft_id"] != "BC69C7CD-7C5E-4185-B284-AF3E1047A664"
    assert content["canvas_config"]["width"] == clips[0]["width"]
    assert content["canvas_config"]["height"] == clips[0]["height"]

    tracks = {t["name"]: t for t in content["tracks"]}
    video = tracks["video"]["segments"]
    assert tracks["video"]["type"] == "video" and len(video) == len(clips)
    cursor = 0
    for seg, clip in zip(video, clips):
        start, end = round(clip["start"] * 1_000_000), round(clip["end"] * 1_000_000)
        assert seg["source_timerange"] == {"start": start, "duration": end - start}
        assert seg["target_timerange"] == {"start": cursor, "duration": end - start}
        cursor += end - start
    assert content["duration"] == cursor == meta["tm_duration"]
    [material] = content["materials"]["videos"]
    assert material["path"] == m["source"]["path"]
    assert {seg["material_id"] for seg in video} == {material["id"]}

    texts = {t["id"]: json.loads(t["content"])["text"] for t in content["materials"]["texts"]}
    subs = [texts[s["material_id"]] for s in tracks["subtitles"]["segments"]]
    assert tracks["subtitles"]["type"] == "text"
    assert [flat(t) for t in subs] == [flat(t) for c in clips for *_, t in cues_of(run_dir, c)] and subs
    titles = tracks["titles"]["segments"]
    assert [texts[s["material_id"]] for s in titles] == [c["title"] for c in clips]
    assert [s["target_timerange"] for s in titles] == [s["target_timerange"] for s in video]
    # the first cue of the first clip sits at its offset from the clip's start
    a, _, _ = cues_of(run_dir, clips[0])[0]
    assert abs(tracks["subtitles"]["segments"][0]["target_timerange"]["start"] -
               round((a - clips[0]["start"]) * 1_000_000)) <= 1

    # the library reads its own draft back
    script = jy.DraftFolder(str(draft.parent)).load_template(draft.name)
    counts = {t.name: len(t.segments) for t in script.imported_tracks}
    assert counts == {"video": len(clips), "titles": len(clips), "subtitles": len(subs)}

    # written again over itself: replaced, not refused
    assert export_run(run_dir, "jianying", draft) == draft
    assert json.loads((draft / "draft_meta_info.json").read_text())["draft_id"] != meta["draft_id"]


def test_jianying_will_not_replace_a_folder_that_is_no_draft(run_dir, tmp_path):
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not a 剪映 draft"):
        export_run(run_dir, "jianying", keep)
    assert (keep / "notes.txt").read_text() == "mine"


# -- --approved, default paths ----------------------------------------------------------------
@pytest.fixture
def run_copy(run_dir, tmp_path) -> Path:
    copy = tmp_path / "run copy"
    shutil.copytree(run_dir, copy)
    return copy


def set_review(run: Path, states: dict[str, str]) -> list[dict]:
    m = manifest_of(run)
    for clip in m["clips"]:
        if clip["id"] in states:
            clip["review"] = {"state": states[clip["id"]], "edited": [], "rev": 1}
        else:
            clip.pop("review", None)
    (run / "manifest.json").write_text(json.dumps(m, ensure_ascii=False))
    return m["clips"]


def test_approved_exports_only_approved_clips(run_copy):
    clips = manifest_of(run_copy)["clips"]
    approved = [clips[0]["id"], clips[-1]["id"]]
    set_review(run_copy, {clips[0]["id"]: "approved", clips[1]["id"]: "rejected", clips[-1]["id"]: "approved"})
    path = export_run(run_copy, "otio", approved=True)
    assert path == run_copy / "exports" / "timeline.approved.otio"
    tl = otio.adapters.read_from_file(str(path))
    items = list(tl.video_tracks()[0])
    assert [i.metadata["clipper"]["id"] for i in items] == approved
    assert {i.metadata["clipper"]["review"] for i in items} == {"approved"}
    check_otio_timeline(tl, run_copy, [c for c in manifest_of(run_copy)["clips"] if c["id"] in approved])

    edl = export_run(run_copy, "edl", approved=True)
    assert edl == run_copy / "exports" / "timeline.approved.edl"
    assert sum(bool(EVENT.match(line)) for line in edl.read_text().splitlines()) == len(approved)

    # without --approved every clip goes, whatever its review
    everything = export_run(run_copy, "otio")
    assert everything == run_copy / "exports" / "timeline.otio"
    assert len(otio.adapters.read_from_file(str(everything)).video_tracks()[0]) == len(clips)


def test_approved_with_none_approved_is_an_input_error(run_copy):
    clips = manifest_of(run_copy)["clips"]
    set_review(run_copy, {c["id"]: "pending" for c in clips})
    with pytest.raises(InputError, match="no approved clips"):
        export_run(run_copy, "fcpxml", approved=True)
    assert not (run_copy / "exports").exists()


def test_default_paths(run_copy):
    for name, fmt in FORMATS.items():
        path = export_run(run_copy, name)
        if fmt.suffix:
            assert path == run_copy / "exports" / f"timeline{fmt.suffix}" and path.is_file()
        else:
            assert path == run_copy / "exports" / "jianying" / "sample_stream selects" and path.is_dir()
    assert (run_copy / "exports" / "jianying" / "sample_stream selects" / "draft_content.json").is_file()
    assert sorted(p.name for p in (run_copy / "exports").iterdir()) == \
        ["jianying", "timeline.edl", "timeline.fcpxml", "timeline.otio", "timeline.xml"]
    # an existing folder as --out takes the default file name
    assert export_run(run_copy, "edl", run_copy) == run_copy / "timeline.edl"


def test_titles_with_quotes_and_markup(run_copy):
    m = manifest_of(run_copy)
    m["clips"][0]["title"] = "Men's fit & <b>"
    (run_copy / "manifest.json").write_text(json.dumps(m, ensure_ascii=False))
    tl = otio.adapters.read_from_file(str(export_run(run_copy, "fcpxml")), adapter_name="fcpx_xml")
    assert tl.video_tracks()[0][0].name == f"{m['clips'][0]['id']} Men\u2019s fit & <b>"
    tl = otio.adapters.read_from_file(str(export_run(run_copy, "otio")))
    assert tl.video_tracks()[0][0].metadata["clipper"]["title"] == "Men's fit & <b>"


def test_a_run_without_clips(run_copy):
    m = manifest_of(run_copy)
    m["clips"] = []
    (run_copy / "manifest.json").write_text(json.dumps(m))
    path = write_timeline(run_copy)     # a run that found nothing still gets its (empty) timeline
    tl = otio.adapters.read_from_file(str(path))
    assert path == run_copy / "timeline.otio" and not list(tl.find_clips())
    with pytest.raises(InputError, match="no clips to export"):
        export_run(run_copy, "jianying")


def test_write_timeline_on_a_folder_without_a_run(tmp_path):
    with pytest.raises(WorkspaceError, match="no manifest.json"):
        write_timeline(tmp_path)
    assert write_timeline(tmp_path, best_effort=True) is None
    assert not (tmp_path / "timeline.otio").exists()


# -- the command line -------------------------------------------------------------------------
def test_cli_export(run_dir, tmp_path):
    from click.testing import CliRunner

    from clipper.cli import main

    out = tmp_path / "cut.fcpxml"
    res = CliRunner().invoke(main, ["export", str(run_dir), "--format", "fcpxml", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out) and out.is_file()
    assert len(ET.parse(out).getroot().findall("project/sequence/spine/clip")) == len(manifest_of(run_dir)["clips"])


def test_cli_errors_are_one_line(run_copy, tmp_path):
    from click.testing import CliRunner

    from clipper.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(main, ["export", str(empty), "--format", "otio"])
    assert res.exit_code == WorkspaceError.exit_code
    assert res.stderr.startswith("clipper: error:") and "no manifest.json" in res.stderr
    assert res.stderr.strip().count("\n") == 0 and not res.stdout

    set_review(run_copy, {})
    res = CliRunner().invoke(main, ["export", str(run_copy), "--format", "edl", "--approved"])
    assert res.exit_code == InputError.exit_code
    assert "no approved clips to export" in res.stderr and res.stderr.strip().count("\n") == 0

    res = CliRunner().invoke(main, ["export", str(run_copy), "--format", "mp4"])
    assert res.exit_code == 2 and "mp4" in res.output
