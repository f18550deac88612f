"""The GPU path, checked without a GPU: the choices device="auto" makes, and the arguments it
would pass, against the installed faster-whisper and this ffmpeg's own option lists.
(No GPU machine was available to run it; the choices and argv are what can be proved here.)"""

from __future__ import annotations

import inspect
import re
import subprocess
from pathlib import Path

import pytest

from clipper.config import load_config
from clipper.render.command import render_argv
from clipper.render.encoder import NVENC_PRESETS, choose_encoder, cuda_devices, video_codec_argv
from clipper.transcribe.whisper import decode_options, runtime
from clipper.types import MediaInfo


def test_auto_takes_cuda_and_float16_on_a_gpu_and_int8_on_the_cpu():
    cfg = load_config().transcribe
    assert (cfg.device, cfg.compute_type) == ("auto", "auto")
    assert runtime(cfg, cuda_devices=1) == ("cuda", "float16")
    assert runtime(cfg, cuda_devices=0) == ("cpu", "int8")
    forced = load_config(overrides={"transcribe": {"device": "cpu", "compute_type": "float16"}}).transcribe
    assert runtime(forced, cuda_devices=2) == ("cpu", "int8")     # float16 does not run on a CPU
    pinned = load_config(overrides={"transcribe": {"device": "cuda", "compute_type": "int8_float16"}}).transcribe
    assert runtime(pinned, cuda_devices=0) == ("cuda", "int8_float16")


def test_cuda_decodes_with_the_batched_pipeline_and_its_options_exist():
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    cfg = load_config(overrides={"transcribe": {"batch_size": 24}}).transcribe
    gpu, cpu = decode_options(cfg, "cuda"), decode_options(cfg, "cpu")
    assert gpu["batch_size"] == 24 and gpu["vad_filter"] is True and "batch_size" not in cpu
    batched = set(inspect.signature(BatchedInferencePipeline.transcribe).parameters)
    sequential = set(inspect.signature(WhisperModel.transcribe).parameters)
    assert set(gpu) | {"language", "initial_prompt"} <= batched
    assert set(cpu) | {"language", "initial_prompt"} <= sequential


def _encoder_help(name: str) -> str:
    return subprocess.run(["ffmpeg", "-hide_banner", "-h", f"encoder={name}"], capture_output=True, text=True).stdout


def test_nvenc_argv_uses_options_this_ffmpeg_knows():
    cfg = load_config().render
    argv = video_codec_argv(cfg, "nvenc")
    assert argv[:2] == ["-c:v", "h264_nvenc"] and argv[argv.index("-preset") + 1] == "p3"    # veryfast
    assert argv[argv.index("-cq") + 1] == str(cfg.crf) and argv[argv.index("-b:v") + 1] == "0"
    help_text = _encoder_help("h264_nvenc")
    if "h264_nvenc" not in help_text:
        pytest.skip("this ffmpeg is built without NVENC")
    for opt in ("-preset", "-rc", "-cq"):
        assert re.search(rf"^\s+{re.escape(opt)}\s", help_text, re.M), opt
    for preset in set(NVENC_PRESETS.values()) | {"vbr"}:
        assert re.search(rf"^\s+{preset}\s", help_text, re.M), preset


def test_without_a_usable_gpu_auto_encodes_with_x264():
    cfg = load_config().render
    assert cfg.encoder == "auto"
    if cuda_devices() == 0:
        assert choose_encoder("auto") == "x264"
    assert choose_encoder("x264") == "x264" and choose_encoder("nvenc") == "nvenc"
    info = MediaInfo("/x.mp4", 10.0, 1, "mov", True, True, 1280, 720)
    argv = render_argv(info, 1.0, 5.0, cfg.model_copy(update={"encoder": "x264"}), Path("/o.mp4"))
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-crf") + 1] == str(cfg.crf)
    nv = render_argv(info, 1.0, 5.0, cfg.model_copy(update={"encoder": "nvenc"}), Path("/o.mp4"))
    assert nv[nv.index("-c:v") + 1] == "h264_nvenc" and "-crf" not in nv


def test_all_cores_means_the_openmp_share_when_one_is_set():
    from clipper.transcribe.whisper import recogniser_threads

    assert recogniser_threads(3, {"OMP_NUM_THREADS": "1"}, 16) == 3       # configured wins
    assert recogniser_threads(0, {}, 16) == 16                            # all cores
    assert recogniser_threads(0, {"OMP_NUM_THREADS": "4"}, 16) == 4       # Ray's task share, xdist's
    assert recogniser_threads(0, {"OMP_NUM_THREADS": "2,1"}, 16) == 2     # nested levels: the outer
    assert recogniser_threads(0, {"OMP_NUM_THREADS": "lots"}, 16) == 16   # unreadable: ignored
    assert recogniser_threads(0, {"OMP_NUM_THREADS": "0"}, 16) == 16
