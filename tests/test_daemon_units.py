"""The daemon's rules one at a time, without Whisper: the live publish rule, the job table's
state changes, the stability check and the stage cache keys. Real SQLite, real files, real
processes and (for the cache) a real pipeline run on a transcript written in advance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clipper import load_config
from clipper.daemon.jobs import JobStore
from clipper.daemon.watcher import Watcher
from clipper.types import ClipSpec


# -- the live publish rule ---------------------------------------------------------------
def clip(start: float, end: float, cid: str = "c001") -> ClipSpec:
    return ClipSpec(id=cid, kind="selling_point", tags=(), product=1, start=start, end=end,
                    sentence_ids=("s00001",), text="...")


def test_a_clip_is_settled_once_speech_went_on_live_settle_seconds_past_it():
    from clipper.pipeline.walk import settled

    c = clip(10.0, 20.0)
    assert not settled(c, transcribed_until=22.9, last_speech=22.5, settle=3.0)   # heard only 2.9 s past it
    assert settled(c, transcribed_until=23.0, last_speech=22.5, settle=3.0)
    # Silence after the clip is not "speech went on": heard far past it, but no sentence ends later.
    assert not settled(c, transcribed_until=60.0, last_speech=20.0, settle=3.0)
    assert settled(c, transcribed_until=20.0, last_speech=20.5, settle=0.0)


def test_only_settled_clips_are_published_in_order_and_numbered_on():
    from clipper.pipeline.walk import clips_to_publish

    plan = [clip(10, 20, "x"), clip(25, 35, "y"), clip(40, 50, "z")]
    # Heard up to 38 s: the first two are settled, the third is not.
    ready = clips_to_publish(plan, [], transcribed_until=38.0, last_speech=37.0, settle=3.0, final=False)
    assert [(c.id, c.start) for c in ready] == [("c001", 10), ("c002", 25)]
    assert clips_to_publish(plan, [], 30.0, 29.0, 3.0, final=False) == [ready[0]]
    assert clips_to_publish(plan, [], 22.0, 21.0, 3.0, final=False) == []
    # The recording is complete: everything planned goes out, settled or not.
    assert [c.id for c in clips_to_publish(plan, [], 41.0, 40.5, 3.0, final=True)] == ["c001", "c002", "c003"]


def test_published_clips_never_change():
    from clipper.pipeline.walk import clips_to_publish

    published = [clip(10.0, 20.0, "c001")]
    before = list(published)
    # More speech came in and the same selling point was planned again, longer (9.5-21 s), and one
    # overlapping its end: neither is published again; the next clip is numbered after it.
    plan = [clip(9.5, 21.0, "a"), clip(19.0, 24.0, "b"), clip(25.0, 35.0, "c")]
    ready = clips_to_publish(plan, published, transcribed_until=40.0, last_speech=39.0, settle=3.0, final=False)
    assert [(c.id, c.start, c.end) for c in ready] == [("c002", 25.0, 35.0)]
    assert published == before
    # The final pass too leaves them alone.
    final = clips_to_publish(plan, published + ready, 40.0, 39.0, 3.0, final=True)
    assert final == []


# -- the job table ---------------------------------------------------------------------
def test_job_moves_pending_running_done(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    assert store.add("/in/a.mp4", "/out/a")
    assert not store.add("/in/a.mp4", "/out/a"), "a source is registered once"
    assert store.out_dir_taken("/out/a") and not store.out_dir_taken("/out/b")
    job = store.known("/in/a.mp4")
    assert (job.state, job.attempts, job.pid) == ("pending", 0, None)
    job = store.claim()
    assert (job.state, job.attempts, job.pid) == ("running", 1, os.getpid())
    assert store.claim() is None, "a running job is not handed out twice"
    store.finish(job.id, 4)
    job = store.known("/in/a.mp4")
    assert (job.state, job.clips, job.pid, job.error) == ("done", 4, None, None)
    assert store.claim() is None


def test_failures_are_retried_after_a_pause_until_max_attempts(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    store.add("/in/bad.mp4", "/out/bad")
    job = store.claim()
    assert store.fail(job.id, "unreadable", max_attempts=2, backoff=3600) == "pending"
    row = store.known("/in/bad.mp4")
    assert (row.state, row.error, row.attempts) == ("pending", "unreadable", 1) and row.retry_at > row.updated
    assert store.claim() is None, "not before its pause is over"
    store.fail(job.id, "unreadable", max_attempts=2, backoff=0)  # the same first failure, no pause
    job = store.claim()
    assert job.attempts == 2
    assert store.fail(job.id, "still unreadable", max_attempts=2, backoff=0) == "failed"
    assert store.claim() is None, "a failed job is left alone"
    assert store.known("/in/bad.mp4").error == "still unreadable"


def test_a_stop_request_puts_the_job_back_without_counting_the_attempt(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    store.add("/in/a.mp4", "/out/a")
    job = store.claim()
    store.release(job.id)
    row = store.known("/in/a.mp4")
    assert (row.state, row.attempts, row.pid) == ("pending", 0, None)


def test_a_job_left_running_by_a_killed_daemon_resumes(tmp_path):
    db = tmp_path / "jobs.sqlite"
    store = JobStore(db)
    store.add("/in/a.mp4", "/out/a")
    store.add("/in/b.mp4", "/out/b")
    # A daemon claims the first job and is killed -9 mid-way.
    crash = ("import os, sys; from clipper.daemon.jobs import JobStore; JobStore(__import__('pathlib').Path(sys.argv[1]))"
             ".claim(); os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", crash, str(db)])
    assert proc.returncode == -9
    assert [j.state for j in store.all()] == ["running", "pending"]
    assert store.recover() == 1
    assert [j.state for j in store.all()] == ["pending", "pending"]
    job = store.claim()
    assert (job.source, job.attempts) == ("/in/a.mp4", 2), "the oldest first, its killed attempt counted"


def test_two_stores_on_one_table_never_claim_the_same_job(tmp_path):
    a, b = JobStore(tmp_path / "jobs.sqlite"), JobStore(tmp_path / "jobs.sqlite")
    a.add("/in/a.mp4", "/out/a")
    assert a.claim() is not None
    assert b.claim() is None


# -- the stability check ---------------------------------------------------------------
def watcher(tmp_path: Path, stable: float, live: bool = False) -> Watcher:
    cfg = load_config(overrides={"watch": {"stable_seconds": stable}})
    return Watcher(tmp_path / "in", tmp_path / "out", cfg, live=live)


def test_a_file_is_complete_once_size_and_mtime_held_still_stable_seconds(tmp_path):
    w = watcher(tmp_path, 5.0)
    f = tmp_path / "rec.mp4"
    f.write_bytes(b"x" * 100)
    assert not w.is_stable(f, now=100.0), "first seen"
    assert not w.is_stable(f, now=104.9)
    assert w.is_stable(f, now=105.0)
    with f.open("ab") as fh:            # it grew
        fh.write(b"y")
    assert not w.is_stable(f, now=106.0)
    assert not w.is_stable(f, now=110.9)
    assert w.is_stable(f, now=111.0)
    st = f.stat()                       # rewritten in place: same size, newer time stamp
    os.utime(f, (st.st_atime, st.st_mtime + 10))
    assert not w.is_stable(f, now=112.0)
    assert w.is_stable(f, now=117.0)
    assert not w.is_stable(tmp_path / "gone.mp4", now=200.0)


def test_an_empty_file_is_never_complete(tmp_path):
    f = tmp_path / "empty.mp4"
    f.touch()
    w = watcher(tmp_path, 5.0)
    assert not w.is_stable(f, now=0.0) and not w.is_stable(f, now=1000.0)
    w0 = watcher(tmp_path, 0.0)
    assert not w0.is_stable(f, now=0.0)
    f.write_bytes(b"x")
    assert w0.is_stable(f, now=0.0), "stable_seconds = 0: complete as soon as it has bytes"


def test_a_segment_folder_is_complete_once_no_segment_changed(tmp_path):
    w = watcher(tmp_path, 5.0)
    rec = tmp_path / "hls"
    rec.mkdir()
    (rec / "seg0.ts").write_bytes(b"a" * 10)
    assert not w.is_stable(rec, now=0.0)
    (rec / "seg1.ts").write_bytes(b"b" * 10)   # a new segment
    assert not w.is_stable(rec, now=6.0)
    assert w.is_stable(rec, now=11.0)


def test_scan_takes_complete_files_and_growing_recordings_in_live_mode(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.mp4", "b.mp4.part", ".hidden.mp4", "notes.txt", "c.ts"):
        (tmp_path / "in" / name).write_bytes(b"x" * 10)
    store = JobStore(tmp_path / "jobs.sqlite")
    watcher(tmp_path, 0.0).scan(store)
    assert sorted(Path(j.source).name for j in store.all()) == ["a.mp4", "c.ts"]
    # Live: a growing .ts is taken at once; an MP4 (unreadable until finished) still waits.
    live_store = JobStore(tmp_path / "live.sqlite")
    watcher(tmp_path, 60.0, live=True).scan(live_store)
    assert [Path(j.source).name for j in live_store.all()] == ["c.ts"]


# -- the stage cache keys ----------------------------------------------------------------
# The config sections each stage's key reads, with those of the stages it is computed from
# (clipper/pipeline/stages.py): a change reaches every stage downstream of what reads it.
KEY_SECTIONS = {"transcript": ("transcribe",), "sentences": ("transcribe", "sentences"),
                "segments": ("transcribe", "sentences", "segment"),
                "shots": ("transcribe", "sentences", "segment", "scenes", "plan"),
                "plan": ("transcribe", "sentences", "segment", "scenes", "plan", "watch")}
# One change in each section (in [watch], the one key the plan reads: when a clip is settled).
CHANGES = {"transcribe": {"beam_size": 2}, "sentences": {"max_chars_cjk": 41}, "segment": {"kinds": ["promo"]},
           "scenes": {"threshold": 20.0}, "plan": {"min_seconds": 9.0}, "render": {"crf": 30},
           "watch": {"live_settle": 3.0}}


def stage_key(stage: str, cfg, fp: str = "f00d") -> str:
    from clipper.pipeline.stages import stage_keys

    return stage_keys(cfg, fp)[stage]


@pytest.mark.parametrize("section", sorted(CHANGES))
def test_a_config_change_changes_the_keys_of_the_stages_that_read_its_section_only(section):
    base = load_config()
    changed = load_config(overrides={section: CHANGES[section]})
    assert getattr(changed, section) != getattr(base, section)
    for stage, sections in KEY_SECTIONS.items():
        assert (stage_key(stage, changed) != stage_key(stage, base)) == (section in sections), (stage, section)


def test_watch_settings_other_than_the_settle_time_change_no_stage():
    base = load_config()
    changed = load_config(overrides={"watch": {"live_interval": 3.0, "stable_seconds": 9.0}})
    assert all(stage_key(s, changed) == stage_key(s, base) for s in KEY_SECTIONS)


def test_the_recognisers_thread_count_changes_no_stage():
    """Threads change how fast a window is heard, not what: a run with another thread count (a
    batch sharing the cores among its workers) resumes the journal."""
    base = load_config()
    other = load_config(overrides={"transcribe": {"threads": 1}})
    assert other.transcribe.threads != base.transcribe.threads
    assert all(stage_key(s, other) == stage_key(s, base) for s in KEY_SECTIONS)


def test_a_local_batch_shares_the_cores_among_its_workers():
    from clipper.batch import share_cores

    cfg = load_config().model_dump(mode="json")
    assert cfg["transcribe"]["threads"] == 0                     # the default: all cores
    assert share_cores(cfg, 2, 2)["transcribe"]["threads"] == 1
    assert share_cores(cfg, 3, 16)["transcribe"]["threads"] == 5
    assert share_cores(cfg, 4, 2)["transcribe"]["threads"] == 1
    assert share_cores(cfg, 1, 16) is cfg                        # one run: all of them
    chosen = {**cfg, "transcribe": {**cfg["transcribe"], "threads": 3}}
    assert share_cores(chosen, 2, 2) is chosen                   # a count the user chose is kept
    assert cfg["transcribe"]["threads"] == 0, "the caller's config is not changed"


def test_a_clips_render_key_reads_the_render_section_and_the_clip_not_its_take_rank():
    from dataclasses import replace

    from clipper.pipeline.publish import render_key
    from clipper.types import ClipSpec

    base, crf = load_config().render, load_config(overrides={"render": CHANGES["render"]}).render
    c = ClipSpec(id="c001", kind="selling_point", tags=("fabric",), product=1, start=1.0, end=20.0,
                 sentence_ids=("s1",), text="...")
    assert render_key("k", c, base) != render_key("k", c, crf)
    assert render_key("k", c, base) != render_key("other source", c, base)
    assert render_key("k", c, base) != render_key("k", replace(c, end=21.0), base)
    assert render_key("k", c, base) == render_key("k", replace(c, take=2, best_take=False), base)


def test_keys_depend_on_the_source_and_the_stage_not_on_the_order_of_settings():
    from clipper.workspace import key_of

    cfg = load_config()
    assert stage_key("plan", cfg, "f00d") != stage_key("plan", cfg, "beef")
    assert key_of("a", {"x": 1, "y": 2}) == key_of("a", {"y": 2, "x": 1})
    assert key_of("a", {"x": 1}) != key_of("b", {"x": 1})
    assert stage_key("plan", cfg) == stage_key("plan", load_config()), "stable across loads"


WORDS = [  # (text, start): a host's lines, one word every 0.45 s, a pause between sentences
    "Hi everyone, welcome back to the live room.",
    "The fabric of this shirt is one hundred percent washed linen, light and breathable.",
    "Feel how soft the linen fabric is, it never scratches your skin.",
    "The drape is lovely, it falls straight and flows when you walk.",
    "Thanks for watching, see you next time.",
]


@pytest.mark.slow
def test_the_pipeline_reuses_a_stage_unless_a_section_its_key_reads_changed(tmp_path):
    """The table above, through real runs. No Whisper: the transcript is saved in the work folder
    beforehand under the key the stage table gives it (the source's fingerprint and [transcribe]),
    and the runs say which stages they reused."""
    from clipper import Pipeline
    from clipper.pipeline.stages import stage_keys
    from clipper.types import SpeechSegment, Transcript, Word
    from clipper.workspace import Workspace, fingerprint

    src = tmp_path / "stream.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=10", "-f", "lavfi",
                    "-i", "sine=frequency=300:sample_rate=16000", "-t", "36", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(src)], check=True)
    words, segments, t = [], [], 1.0
    for line in WORDS:
        first = len(words)
        for token in line.split():
            words.append(Word(f" {token}", round(t, 2), round(t + 0.35, 2)))
            t += 0.45
        segments.append(SpeechSegment(words[first].start, words[-1].end, line, first, len(words) - 1))
        t += 0.8
    assert t < 36
    transcript = Transcript("en", 1.0, 36.0, "tiny.en", tuple(words), tuple(segments))
    small = {"segment": {"backend": "rules"},
             "render": {"width": 180, "height": 320, "fps": 10, "layout": "crop", "preset": "ultrafast",
                        "loudness": 0.0, "audio_bitrate": "32k", "font_size": 14, "title": False}}

    def run(out: Path, **section_changes):
        overrides = {k: dict(v) for k, v in small.items()}
        for section, change in section_changes.items():
            overrides.setdefault(section, {}).update(change)
        cfg = load_config(overrides=overrides)
        Workspace(out).save("transcript", stage_keys(cfg, fingerprint(src))["transcript"], transcript)
        return Pipeline(cfg).run(src, out)

    def rerun(**section_changes):  # on a copy of the first run's folder
        out = tmp_path / f"out {len(list(tmp_path.iterdir()))}"
        shutil.copytree(tmp_path / "out", out)
        return run(out, **section_changes).reused

    first = run(tmp_path / "out")
    assert first.reused == ("transcript",), "the saved transcript was found: nothing was transcribed"
    assert len(first.clips) >= 1
    clips = f"{len(first.clips)} clips"
    every = ("transcript", "sentences", "segments", "shots", "plan", clips)
    assert rerun() == every
    assert rerun(watch={"live_interval": 3.0}) == every, "no stage reads [watch] but the settle time"
    assert rerun(render=CHANGES["render"]) == every[:5], "[render] changes the clips only"
    # Anything the plan reads walks the journal's windows again (nothing is transcribed) and
    # reuses the stages whose keys did not change; a change that leaves these English
    # sentences' clips as they were leaves their files.
    assert rerun(sentences=CHANGES["sentences"]) == ("transcript", clips)
    assert rerun(scenes=CHANGES["scenes"]) == ("transcript", "sentences", "segments", clips)
    reused = rerun(segment={"kinds": ["selling_point", "promo"]})
    assert reused[:2] == ("transcript", "sentences") and "segments" not in reused, "[segment] is read by segmentation's key"


def test_file_events_wake_the_watcher_without_waiting_for_a_rescan(tmp_path):
    """With rescans an hour apart, a file dropped into the inbox is still taken within seconds:
    watchdog's event wakes the loop, and the loop looks again when the file is due to be stable."""
    import time

    pytest.importorskip("watchdog")
    from clipper.daemon import start_watcher

    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    cfg = load_config(overrides={"transcribe": {"model": "tiny.en"},
                                 "watch": {"rescan_seconds": 3600.0, "stable_seconds": 0.5, "max_attempts": 1}})
    watcher = start_watcher(inbox, outbox, cfg)
    try:
        deadline = time.monotonic() + 10
        while not (outbox / ".clipper" / "jobs.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)                                 # the loop is now waiting (up to an hour)
        (inbox / "broken.mp4").write_bytes(b"not a video at all")
        deadline = time.monotonic() + 20
        while not (outbox / "broken.error.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (outbox / "broken.error.json").exists(), "the event woke the watcher"
    finally:
        watcher.stop()
        watcher.thread.join(timeout=30)


def test_the_loop_looks_again_when_a_changing_file_is_due(tmp_path):
    cfg = load_config(overrides={"watch": {"rescan_seconds": 60.0, "stable_seconds": 10.0}})
    w = Watcher(tmp_path, tmp_path / "out", cfg)
    assert w.next_look(now=100.0) == 60.0
    f = tmp_path / "a.mp4"
    f.write_bytes(b"x" * 10)
    assert not w.is_stable(f, now=100.0)               # first seen at t=100
    assert w.next_look(now=103.0) == pytest.approx(7.0)
    assert w.next_look(now=111.0) == 60.0              # due already: the next scan takes it


def test_a_run_that_takes_the_folder_removes_what_a_killed_one_half_wrote(tmp_path):
    """kill -9 between an atomic write's mkstemp and its rename leaves ``.<name>.XXXXXXXX.tmp``
    (the random-kill test found ``.media.json.1c3asbkz.tmp``): the next holder of the folder's
    lock removes it, and nothing that is not such a leftover."""
    import tempfile

    from clipper.workspace import FolderLock, write_json_atomic

    out = tmp_path / "out"
    write_json_atomic(out / ".clipper" / "media.json", {"ok": True})
    (out / "clips").mkdir()
    left = [Path(tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=where)[1])
            for name, where in (("media.json", out / ".clipper"), ("manifest.json", out),
                                ("c001.srt", out / "clips"))]
    # The review page's own write in flight (it holds another lock), a user's files, the run's.
    reviewing = Path(tempfile.mkstemp(prefix=".review.json.", suffix=".tmp", dir=out)[1])
    keep = [reviewing, out / "notes.tmp", out / ".keep.tmp", out / "clips" / "c001.mp4", out / ".clipper" / "media.json"]
    for path in keep[1:4]:
        path.write_text("mine")
    with FolderLock(out):
        assert not any(p.exists() for p in left)
        assert all(p.exists() for p in keep)
