#!/usr/bin/env python3
"""A corpus of bad and odd inputs, each with its expected outcome as data.

    scripts/make_bad_inputs.py DEST      # writes the inputs into DEST and lists them in DEST/cases.json

Inputs are made with ffmpeg from lavfi sources (``testsrc2``, ``sine``, ``anullsrc``) and from
pieces of real speech cut out of the sample stream (``scripts/make_sample.py``): ``s6`` is one
selling-point sentence (6.2 s), ``s12`` two of them (11.2 s), ``chat`` the host's greeting.

Every case in ``CASES`` says how its input is made (``make``), how clipper is called (``args``,
``setup``) and what must come out (``expect``):

- ``exit``: the exit code; ``message``: a piece of the one ``clipper: error:`` line (or of the
  log, for a run that succeeds with a warning);
- ``clips`` / ``max_clips``: how many clips the manifest must list at least / at most;
- ``manifest``: ``[path, op, value]`` checks on manifest.json (``clips.*.end`` checks every clip);
- ``exists`` / ``absent``: paths (globs, relative to the case's folder) that must / must not be there.
  Every case also checks that nothing half-written is left: no ``*.tmp``, ``*.part``, ``.c*``
  render folders, and no clip file the manifest does not list.

``tests/test_bad_inputs.py`` runs each case through the real command line (real ffmpeg, real
Whisper tiny.en). Settings are chosen for speed (``cheap.toml``: a 270x480 frame, ultrafast).
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VERSION = 8          # bump when a case's input changes: the corpus is rebuilt

PICTURE = "testsrc2=s=192x108:r=15"
V = ["-f", "lavfi", "-i", PICTURE]          # the picture of most cases: small, to keep the tests quick
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "64k"]
AV = ["-map", "0:v", "-map", "1:a"]
RUN = ["run", "{src}", "--out", "{out}", "--config", "{cfg}"]
WITH_CONFIG = ["run", "{corpus}/s6.mp4", "--out", "{out}", "--config", "{src}"]   # the case's file is the config

CHEAP_TOML = """\
[transcribe]
model = "tiny.en"
[segment]
backend = "rules"
[plan]
min_seconds = 3.0
[render]
width = 270
height = 480
fps = 15
preset = "ultrafast"
audio_rate = 16000
audio_bitrate = "32k"
layout = "fit"
loudness = 0.0
cover = false
jobs = 1
"""

# Intermediate files the cases are made from: name -> make.
HELPERS: dict[str, list[Any]] = {
    "s6.wav": ["cut", 10.8, 6.2],
    "s12.wav": ["cut", 10.8, 11.2],
    "chat.wav": ["cut", 0.6, 9.3],
    "s6.mp4": ["ffmpeg", *V, "-i", "{s6.wav}", *AV, "-shortest", *H264, *AAC, "-movflags", "+faststart"],
    "s12.mp4": ["ffmpeg", *V, "-i", "{s12.wav}", *AV, "-shortest", *H264, *AAC],      # moov at the end
    "s12.mkv": ["ffmpeg", *V, "-i", "{s12.wav}", *AV, "-shortest", *H264, *AAC],
    "s12.ts": ["ffmpeg", *V, "-i", "{s12.wav}", *AV, "-shortest", *H264, *AAC, "-f", "mpegts"],
    "s6.ts": ["ffmpeg", *V, "-i", "{s6.wav}", *AV, "-shortest", *H264, *AAC, "-f", "mpegts"],
}


def _ok(clips: int = 1, **more: Any) -> dict[str, Any]:
    return {"exit": 0, "clips": clips, **more}


def _err(code: int, message: str, **more: Any) -> dict[str, Any]:
    return {"exit": code, "message": message, **more}


def _av(audio: str = "{s6.wav}", picture: list[str] = V, video: list[str] = H264, sound: list[str] = AAC,
        *extra: str, shortest: bool = True) -> list[str]:
    return ["ffmpeg", *picture, "-i", audio, *AV, *(["-shortest"] if shortest else []), *video, *sound, *extra]


CLASSIFY_ROWS = ['{"id": "a", "text": "这款面料是百分百桑蚕丝，非常亲肤"}',
                 '{"id": "b", "text": "三二一上链接，今天直播间到手价一百六十九元"}']
CLASSIFY = ["classify", "{src}", "--out", "{tmp}/labels.jsonl", "--backend", "rules", "--category", "apparel"]
CLASSIFIED = {"exit": 0, "labels": {"a": "SELLING_POINT", "b": "PROMO"}}
SET_ASIDE = "set aside"

# fmt: off
CASES: list[dict[str, Any]] = [
    # -- not a recording ------------------------------------------------------------------
    {"name": "zero_byte", "file": "empty.mp4", "make": ["text", ""], "expect": _err(3, "file is empty")},
    {"name": "text_named_mp4", "file": "notes 笔记.mp4", "make": ["text", "this is not a video\n"],
     "expect": _err(3, "not a readable audio/video file")},
    {"name": "random_bytes", "file": "noise.mkv", "make": ["random", 65536], "expect": _err(3, "not a readable")},
    {"name": "image_named_mp4", "file": "frame.mp4",
     "make": ["ffmpeg", "-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1", "-c:v", "png", "-f", "image2"],
     "expect": _err(3, "not a recording")},
    {"name": "missing_path", "file": "nope.mp4", "make": None, "expect": _err(3, "no such file", absent=["out"])},
    {"name": "folder_as_source", "file": "folder.mp4", "make": ["dir"], "expect": _err(3, "not a file")},
    {"name": "missing_moov", "file": "no moov.mp4", "make": ["truncate", "s12.mp4", 0.5],
     "expect": _err(3, "moov atom not found")},
    # -- no sound, no speech --------------------------------------------------------------
    {"name": "no_audio", "file": "no audio.mp4",
     "make": ["ffmpeg", "-f", "lavfi", "-i", PICTURE + ":d=4", *H264],
     "expect": _err(3, "no audio track")},
    {"name": "silence", "file": "silence.mp4",
     "make": ["ffmpeg", *V, "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "6", *H264, *AAC],
     "expect": _err(3, "no speech")},
    {"name": "tones_only", "file": "tones.m4a",
     "make": ["ffmpeg", "-f", "lavfi", "-i", "sine=f=440:d=6", "-f", "lavfi", "-i", "sine=f=660:d=6",
              "-filter_complex", "amix=inputs=2", *AAC],
     "expect": _err(3, "no speech")},
    {"name": "input_0_3s", "file": "short 0.3s.mp4", "make": ["ffmpeg", *V, "-i", "{s6.wav}", *AV, "-t", "0.3", *H264,
                                                            *AAC],
     "expect": _err(3, "no speech")},
    {"name": "input_1s", "file": "short 1s.mp4",
     "make": ["ffmpeg", *V, "-ss", "0.3", "-i", "{s6.wav}", *AV, "-t", "1", *H264, *AAC],
     "expect": {"exit": 0, "clips": 0, "max_clips": 0}},
    {"name": "chatter_only", "file": "chatter.mp4", "make": _av("{chat.wav}"),
     "expect": {"exit": 0, "clips": 0, "max_clips": 0, "stdout": "no clips"}},
    # -- sound only ---------------------------------------------------------------------
    {"name": "audio_only_m4a", "file": "talk.m4a", "make": ["ffmpeg", "-i", "{s6.wav}", *AAC],
     "expect": _ok(manifest=[["source.has_video", "==", False]])},
    {"name": "audio_only_mp3", "file": "talk.mp3", "make": ["ffmpeg", "-i", "{s6.wav}", "-c:a", "libmp3lame"],
     "expect": _ok()},
    {"name": "audio_only_wav", "file": "talk.wav", "make": ["ffmpeg", "-i", "{s6.wav}", "-c:a", "pcm_s16le"],
     "expect": _ok()},
    {"name": "audio_8khz_mono", "file": "phone 8k.wav", "make": ["ffmpeg", "-i", "{s6.wav}", "-ar", "8000", "-ac", "1"],
     "expect": _ok()},
    {"name": "surround_5_1", "file": "surround.mp4", "make": _av("{s6.wav}", V, H264, ["-ac", "6", *AAC]),
     "expect": _ok()},
    # -- timestamps -----------------------------------------------------------------------
    {"name": "ts_starts_at_1000s", "file": "offset.ts", "make": _av("{s6.wav}", V, H264, AAC, "-output_ts_offset", "1000",
                                                                   "-f", "mpegts"),
     "expect": _ok(manifest=[["clips.0.start", "<", 3.0], ["source.duration", "<", 10.0]])},
    {"name": "vfr", "file": "vfr.mp4",
     "make": _av("{s6.wav}", V, ["-vf", "select='lt(mod(n,10),6)'", "-fps_mode", "passthrough", *H264], AAC),
     "expect": _ok()},
    {"name": "ts_jumps_backwards", "file": "twice.ts", "make": ["cat", "s6.ts", "s6.ts"], "expect": _ok()},
    {"name": "corrupt_middle", "file": "damaged middle.ts", "make": ["corrupt_middle", "s12.ts", 48 * 1024],
     "expect": _ok(message="damaged")},
    {"name": "truncated_mkv", "file": "cut.mkv", "make": ["truncate", "s12.mkv", 0.7], "expect": _ok()},
    {"name": "truncated_ts", "file": "cut.ts", "make": ["truncate", "s12.ts", 0.7], "expect": _ok()},
    {"name": "audio_starts_late", "file": "late sound.mp4",
     "make": ["ffmpeg", *V, "-itsoffset", "2", "-i", "{s6.wav}", *AV, "-t", "8.2", *H264, *AAC],
     "expect": _ok(manifest=[["clips.0.start", ">=", 1.5]])},   # not 0: words are placed in source time
    {"name": "audio_delayed_silence", "file": "adelay.mp4",
     "make": _av("{s6.wav}", V, H264, ["-af", "adelay=2000:all=1", *AAC], "-t", "8.2"),
     "expect": _ok(manifest=[["clips.0.start", ">=", 1.5]])},
    # -- the picture and the sound disagree -------------------------------------------------
    {"name": "video_shorter_than_audio", "file": "picture stops.mp4",
     "make": _av("{s6.wav}", ["-f", "lavfi", "-i", PICTURE + ":d=2"], H264, AAC, shortest=False),
     "expect": {"exit": 0, "clips": 0, "max_clips": 0, "message": "picture",
                "manifest": [["dropped.0.reason", "contains", "no picture"], ["source.picture.1", "<", 2.5]]}},
    {"name": "video_ends_mid_speech", "file": "picture stops later.mp4",
     "make": _av("{s12.wav}", ["-f", "lavfi", "-i", PICTURE + ":d=7"], H264, AAC, shortest=False),
     "expect": _ok(message="picture", manifest=[["clips.*.end", "<=", 7.05]])},
    {"name": "video_longer_than_audio", "file": "picture goes on.mp4",
     "make": _av("{s6.wav}", ["-f", "lavfi", "-i", PICTURE + ":d=9"], H264, AAC, shortest=False),
     "expect": _ok()},
    {"name": "video_starts_late", "file": "picture late.mp4",
     "make": ["ffmpeg", *V, "-i", "{s12.wav}", *AV, "-t", "11.2", "-vf", "setpts=PTS+2/TB", *H264, *AAC],
     "expect": _ok(manifest=[["clips.*.start", ">=", 1.95]])},
    # -- orientation, frame size, codecs ----------------------------------------------------
    {"name": "rotate_90", "file": "phone 90.mp4",
     "make": ["ffmpeg", "-i", "{s6.mp4}", "-c", "copy", "-metadata:s:v:0", "rotate=90"],
     "expect": _ok(manifest=[["source.width", "==", 108], ["source.height", "==", 192]])},
    {"name": "rotate_270", "file": "phone 270.mp4",
     "make": ["ffmpeg", "-i", "{s6.mp4}", "-c", "copy", "-metadata:s:v:0", "rotate=270"],
     "expect": _ok(manifest=[["source.width", "==", 108]])},
    {"name": "portrait", "file": "portrait.mp4", "make": _av("{s6.wav}", ["-f", "lavfi", "-i", "testsrc2=s=108x192:r=15"]),
     "expect": _ok(manifest=[["source.height", "==", 192]])},
    {"name": "odd_size_721x405", "file": "odd.mp4",
     "make": _av("{s6.wav}", ["-f", "lavfi", "-i", PICTURE + ",scale=721:405,format=yuv444p"],
                 ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"]),
     "expect": _ok(manifest=[["source.width", "==", 721]])},
    {"name": "yuv444p10", "file": "10bit 444.mkv",
     "make": _av("{s6.wav}", V, ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p10le"]),
     "expect": _ok()},
    {"name": "uhd_4k60", "file": "4k60.mp4",   # a phone's 4K at 60 fps (a flat picture with a moving box: quick to make)
     "make": _av("{s6.wav}", ["-f", "lavfi", "-i", "color=c=0x336699:s=3840x2160:r=60,"
                                                  "drawbox=x=mod(t*400\\,3600):y=900:w=240:h=240:c=yellow:t=fill"]),
     "expect": _ok(manifest=[["source.width", "==", 3840], ["source.height", "==", 2160]])},
    {"name": "over_2gb_sparse", "file": "over 2 GB.mp4", "make": ["over_2gb", "s6.mp4"],
     "expect": _ok(manifest=[["source.duration", ">", 6.0]])},
    {"name": "hevc", "file": "hevc.mp4",
     "make": _av("{s6.wav}", V, ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                                 "-tag:v", "hvc1"]),
     "expect": _ok()},
    {"name": "vp9_webm", "file": "vp9.webm",
     "make": _av("{s6.wav}", V, ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k"],
                 ["-c:a", "libopus"]),
     "expect": _ok()},
    # -- more than one sound ---------------------------------------------------------------
    {"name": "two_audio_tracks", "file": "two tracks.mp4",
     "make": ["ffmpeg", *V, "-i", "{s6.wav}", "-f", "lavfi", "-i", "sine=f=300:d=6.2", "-map", "0:v", "-map", "1:a",
              "-map", "2:a", "-shortest", *H264, *AAC],
     "expect": _ok(manifest=[["source.audio_track", "==", 0], ["source.audio_tracks", "==", 2]])},
    {"name": "second_track_default", "file": "commentary first.mkv",
     "make": ["ffmpeg", *V, "-f", "lavfi", "-i", "sine=f=300:d=6.2", "-i", "{s6.wav}", "-map", "0:v", "-map", "1:a",
              "-map", "2:a", "-shortest", *H264, *AAC, "-disposition:a:0", "0", "-disposition:a:1", "default"],
     "expect": _ok(manifest=[["source.audio_track", "==", 1]])},
    # -- names ffmpeg could misread ---------------------------------------------------------
    {"name": "path_spaces_cjk_quotes", "file": "直播 回放 it's \"live\".mp4", "make": ["copy", "s6.mp4"],
     "expect": _ok()},
    {"name": "path_colon_relative", "file": "clips/live 20:00.mp4", "make": ["copy", "s6.mp4"], "cwd": True,
     "expect": _ok()},
    {"name": "path_protocol_like", "file": "rtmp:live.mp4", "make": ["copy", "s6.mp4"], "cwd": True, "expect": _ok()},
    {"name": "path_leading_dash", "file": "-live.mp4", "make": ["copy", "s6.mp4"], "cwd": True,
     "args": ["run", "--out", "{out}", "--config", "{cfg}", "--", "{src}"], "expect": _ok()},
    {"name": "path_hash_percent_question", "file": "#1 50% off?.mp4", "make": ["copy", "s6.mp4"], "expect": _ok()},
    {"name": "path_newline", "file": "line\nbreak.mp4", "make": ["copy", "s6.mp4"], "expect": _ok()},
    {"name": "out_folder_odd_chars", "file": "plain.mp4", "make": ["copy", "s6.mp4"],
     "args": ["run", "{src}", "--out", "{tmp}/out 50%d [x]; a:b,c'", "--config", "{cfg_cover}"],
     "expect": _ok(exists=["out 50%d [x]; a:b,c'/clips/c001.jpg"])},
    # -- settings ---------------------------------------------------------------------------
    {"name": "config_bad_toml", "file": "bad.toml", "make": ["text", "[render\nwidth = 1\n"],
     "args": WITH_CONFIG, "expect": _err(2, "not valid TOML")},
    {"name": "config_unknown_key", "file": "unknown.toml", "make": ["text", "[render]\nwidht = 720\n"],
     "args": WITH_CONFIG, "expect": _err(2, "render.widht")},
    {"name": "config_wrong_type", "file": "type.toml", "make": ["text", "[render]\nwidth = \"wide\"\n"],
     "args": WITH_CONFIG, "expect": _err(2, "render.width")},
    {"name": "config_binary", "file": "binary.toml", "make": ["random", 512],
     "args": WITH_CONFIG, "expect": _err(2, "not valid TOML")},
    {"name": "config_bad_preset", "file": "preset.toml", "make": ["text", "[render]\npreset = \"fastest\"\n"],
     "args": WITH_CONFIG, "expect": _err(2, "render.preset")},
    {"name": "config_title_field", "file": "title.toml", "make": ["text", "[render]\ntitle_template = \"{price}\"\n"],
     "args": WITH_CONFIG, "expect": _err(2, "title_template")},
    {"name": "config_logo_missing", "file": "logo.toml", "make": ["text", "[render]\nlogo = \"/nonexistent/logo.png\"\n"],
     "args": WITH_CONFIG, "expect": _err(2, "render.logo")},
    {"name": "language_klingon", "file": "s6.mp4", "make": None, "args": [*RUN, "--language", "klingon"],
     "expect": _err(2, "unknown language 'klingon'", absent=["out"])},
    {"name": "kinds_unknown", "file": "s6.mp4", "make": None, "args": [*RUN, "--kinds", "bargains"],
     "expect": _err(2, "kinds")},
    # -- models ---------------------------------------------------------------------------
    {"name": "model_folder_missing", "file": "s6.mp4", "make": None,
     "args": [*RUN, "--model", "{tmp}/no-such-model"], "expect": _err(4, "no such model folder")},
    {"name": "model_bin_truncated", "file": "s6.mp4", "make": None, "setup": [["truncated_model", "model"]],
     "args": [*RUN, "--model", "{tmp}/model"], "expect": _err(4, "cannot load Whisper model",
                                                          absent=["out/.clipper/audio.wav"])},
    {"name": "model_unknown_name", "file": "s6.mp4", "make": None, "args": [*RUN, "--model", "huge"],
     "expect": _err(4, "unknown model 'huge'")},
    # -- the output folder --------------------------------------------------------------------
    {"name": "out_is_a_file", "file": "s6.mp4", "make": None, "setup": [["file", "out", "notes\n"]],
     "expect": _err(6, "not a folder")},
    {"name": "stray_clips_file", "file": "s6.mp4", "make": None, "setup": [["file", "out/clips", "x"]],
     "expect": _err(6, "clips", absent=["out/.clipper/transcript.json"])},
    {"name": "stray_workfolder_file", "file": "s6.mp4", "make": None, "setup": [["file", "out/.clipper", "x"]],
     "expect": _err(6, ".clipper")},
    {"name": "out_parent_is_a_file", "file": "s6.mp4", "make": None, "setup": [["file", "parent", "x"]],
     "args": ["run", "{src}", "--out", "{tmp}/parent/out", "--config", "{cfg}"], "expect": _err(6, "parent")},
    {"name": "out_unwritable", "file": "s6.mp4", "make": None,
     "args": ["run", "{src}", "--out", "/proc/clipper-out", "--config", "{cfg}"], "expect": _err(6, "/proc/clipper-out")},
    # -- the output disk: full or read-only (a small tmpfs; these need root to mount) -----------
    {"name": "disk_full_extracting_audio", "file": "s6.mp4", "make": None, "mode": "disk", "disk": {"size": "96k"},
     "expect": _err(6, "no space left on the output disk")},
    {"name": "disk_full_rendering", "file": "s6.mp4", "make": None, "mode": "disk",
     "disk": {"size": "4m", "analysed": True, "leave": 40 * 1024},
     "expect": _err(6, "no space left on the output disk", absent=["disk/out/manifest.json"])},
    {"name": "disk_read_only", "file": "s6.mp4", "make": None, "mode": "disk", "disk": {"size": "1m", "read_only": True},
     "expect": _err(6, "read-only file system")},
    # -- damaged work folder: set aside and recomputed ---------------------------------------
    *[{"name": f"cache_{name}", "file": "s6.mp4", "make": None, "setup": [["base_run"], *ops],
       "expect": _ok(message=SET_ASIDE, exists=[f"out/.clipper/{target}.corrupt"])}
      for name, target, ops in [
          ("renders_garbage", "renders.json", [["garbage", "out/.clipper/renders.json"]]),
          ("renders_wrong_shape", "renders.json", [["json", "out/.clipper/renders.json", {"c001": 5}]]),
          ("transcript_garbage", "transcript.json", [["garbage", "out/.clipper/transcript.json"]]),
          ("journal_garbage", "journal.jsonl", [["rm", "out/.clipper/transcript.json"],
                                                ["garbage", "out/.clipper/journal.jsonl"]]),
          ("segments_wrong_shape", "segments.json", [["json", "out/.clipper/segments.json", [1, 2, 3]]]),
          ("shots_garbage", "shots.json", [["garbage", "out/.clipper/shots.json"]]),
          ("plan_folder", "plan.json", [["dir", "out/.clipper/plan.json"]]),
          ("config_folder", "config.json", [["dir", "out/.clipper/config.json"]]),
          ("media_wrong_shape", "media.json", [["dir", "out/.clipper/media.json"]]),
      ]],
    {"name": "render_while_a_run_holds_the_folder", "file": "s6.mp4", "make": None,
     "setup": [["base_run"], ["hold_lock", "out"]], "args": ["render", "{out}"],
     "expect": _err(6, "another clipper run")},
    {"name": "render_reads_damaged_run", "file": "s6.mp4", "make": None,
     "setup": [["base_run"], ["garbage", "out/.clipper/plan.json"]], "args": ["render", "{out}"],
     "expect": _err(6, "run `clipper run` again")},
    # -- classify: text files from any tool ------------------------------------------------------
    {"name": "classify_gbk", "file": "rows gbk.jsonl", "make": ["encode", "\n".join(CLASSIFY_ROWS), "gbk"],
     "args": CLASSIFY, "expect": CLASSIFIED},
    {"name": "classify_utf8_bom", "file": "rows bom.jsonl", "make": ["encode", "\n".join(CLASSIFY_ROWS), "utf-8-sig"],
     "args": CLASSIFY, "expect": CLASSIFIED},
    {"name": "classify_utf16_bom", "file": "rows utf16.jsonl", "make": ["encode", "\n".join(CLASSIFY_ROWS), "utf-16"],
     "args": CLASSIFY, "expect": CLASSIFIED},
    {"name": "classify_binary", "file": "rows.bin", "make": ["random", 2048], "args": CLASSIFY,
     "expect": _err(2, "cannot read as text", absent=["labels.jsonl"])},
    {"name": "classify_bad_row", "file": "rows bad.jsonl", "make": ["text", '{"id": "a"}\n'], "args": CLASSIFY,
     "expect": _err(2, "line 1")},
    # -- remix: text is text ------------------------------------------------------------------
    {"name": "remix_brace_intro", "file": "s6.mp4", "make": None, "setup": [["base_run"]],
     "args": ["remix", "{out}/manifest.json", "--out", "{tmp}/remix.mp4", "--config", "{cfg}", "--kinds",
              "selling_point,promo,chatter", "--transition", "0", "--intro", "Linen {50% off} \\N 100%"],
     "expect": {"exit": 0, "json": ["remix.json", "intro", "Linen {50% off} \\N 100%"]}},
    # -- two at once, and Ctrl-C (these run clipper as a process) -------------------------------
    {"name": "two_runs_one_folder", "file": "s6.mp4", "make": None, "mode": "concurrent",
     "expect": _err(6, "another clipper run")},
    {"name": "sigint_while_transcribing", "file": "s12.mp4", "make": None, "mode": "sigint",
     "at": "transcribing", "expect": {"exit": 130, "message": "interrupted"}},
]
# fmt: on


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr[-800:]}")


def _make(make: list[Any], name: Path, corpus: Path, sample: Path) -> None:
    op, *params = make
    dest = corpus / name
    dest.parent.mkdir(parents=True, exist_ok=True)
    if op == "text":
        dest.write_text(params[0], encoding="utf-8")
    elif op == "encode":
        dest.write_bytes((params[0] + "\n").encode(params[1]))
    elif op == "random":
        dest.write_bytes(random.Random(len(dest.name)).randbytes(params[0]))
    elif op == "dir":
        dest.mkdir(exist_ok=True)
    elif op == "copy":
        shutil.copyfile(corpus / params[0], dest)
    elif op == "cat":
        dest.write_bytes(b"".join((corpus / p).read_bytes() for p in params))
    elif op == "truncate":
        data = (corpus / params[0]).read_bytes()
        dest.write_bytes(data[: int(len(data) * params[1])])
    elif op == "corrupt_middle":
        data = bytearray((corpus / params[0]).read_bytes())
        mid = len(data) // 2
        data[mid:mid + params[1]] = random.Random(7).randbytes(params[1])
        dest.write_bytes(bytes(data))
    elif op == "over_2gb":
        _over_2gb(corpus / params[0], dest)
    elif op == "cut":
        _run(["ffmpeg", "-v", "error", "-y", "-ss", str(params[0]), "-t", str(params[1]), "-i", str(sample),
              "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(dest)])
    elif op == "ffmpeg":
        args = [str(corpus / a[1:-1]) if a.startswith("{") and a.endswith("}") else a for a in params]
        _run(["ffmpeg", "-v", "error", "-y", *args, str(dest)])
    else:
        raise ValueError(f"unknown make op {op!r}")


def _over_2gb(source: Path, dest: Path) -> None:
    """``source`` stream-copied to a fragmented MP4, with a 2.1 GB ``free`` box between its
    fragments: a file of over 2 GB (offsets past 32 bits) that takes a few KB of disk, as the
    hole is never written. Fragment offsets are relative to their own ``moof``, so the
    recording is intact; the ``mfra`` index (absolute offsets) is left out."""
    frag = dest.with_name(dest.name + ".frag.mp4")
    _run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-c", "copy", "-movflags", "empty_moov+default_base_moof",
          "-frag_duration", "1000000", str(frag)])
    data = frag.read_bytes()
    frag.unlink()
    boxes, i = [], 0
    while i < len(data):
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        size = struct.unpack(">Q", data[i + 8:i + 16])[0] if size == 1 else size
        boxes.append((kind, data[i:i + size]))
        i += size
    head = [b for k, b in boxes if k in (b"ftyp", b"moov")]
    fragments = [b for k, b in boxes if k in (b"moof", b"mdat")]
    half = len(fragments) // 4 * 2 or 2   # after a whole moof+mdat pair
    hole = (2 << 30) + (100 << 20)
    with dest.open("wb") as fh:
        fh.write(b"".join(head + fragments[:half]))
        fh.write(struct.pack(">I4sQ", 1, b"free", 16 + hole))
        fh.seek(hole, 1)
        fh.write(b"".join(fragments[half:]))
    assert dest.stat().st_size > 2 ** 31


_WAVS = [n for n in HELPERS if n.endswith(".wav")]
_FILES = [n for n in HELPERS if not n.endswith(".wav")]


def _recipe(name: str) -> tuple[list[Any], Path]:
    """(make, file name) of a helper or a case."""
    if name in HELPERS:
        return HELPERS[name], Path(name)
    case = next(c for c in CASES if c["name"] == name)
    return case["make"], Path(case["file"])


def build(dest: Path, sample: Path | None = None) -> list[dict[str, Any]]:
    """Make every input under ``dest`` (once: a finished corpus of this VERSION is reused)."""
    dest.mkdir(parents=True, exist_ok=True)
    stamp = dest / "cases.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("version") == VERSION:
        return CASES
    if sample is None:
        sys.path.insert(0, str(ROOT / "scripts"))
        import make_sample

        sample = make_sample.build()
    with ThreadPoolExecutor(max_workers=2) as pool:   # two ffmpeg at a time
        for stage in (_WAVS, _FILES, [c["name"] for c in CASES if c.get("make")]):
            list(pool.map(lambda name: _make(*_recipe(name), dest, sample), stage))
    (dest / "cheap.toml").write_text(CHEAP_TOML)
    (dest / "cheap-cover.toml").write_text(CHEAP_TOML.replace("cover = false", "cover = true"))
    stamp.write_text(json.dumps({"version": VERSION, "cases": CASES}, ensure_ascii=False, indent=1))
    return CASES


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_inputs.py DEST")
    cases = build(Path(sys.argv[1]))
    print(f"{len(cases)} cases in {sys.argv[1]}/cases.json")
