#!/usr/bin/env python3
"""The GPU transcription path on a CUDA machine: faster-whisper with clipper's own CUDA options
(the batched pipeline, float16, ``transcribe.batch_size``, VAD, word times) on a 60-minute
stream, beside the same model decoding one stretch at a time on the same GPU.

    scripts/bench_gpu.py prepare DIR        # here: options, the sample's audio, the model, split
    scripts/bench_gpu.py measure DIR OUT    # there: joins the model, times both, writes OUT/gpu.json

``prepare`` reads the options from clipper's code (``decode_options(cfg, "cuda")``) and writes
the English sample's 16 kHz audio; ``measure`` needs only faster-whisper and CUDA (the sample
is tiled to 60 minutes, so no ffmpeg is needed there). The parts are split so each fits a
machine's transfer limit (``--part-mib``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(folder: Path, part_mib: int, first_part_mib: int) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_sample

    from clipper import load_config
    from clipper.media.audio import SAMPLE_RATE
    from clipper.transcribe.models import resolve
    from clipper.transcribe.whisper import decode_options

    cfg = load_config().transcribe
    folder.mkdir(parents=True, exist_ok=True)
    first = folder / "files"   # everything but the model's weights, carried with the last part
    first.mkdir(exist_ok=True)
    options = {"batched": decode_options(cfg, "cuda", "en"), "sequential": decode_options(cfg, "cpu", "en"),
               "model": cfg.model, "compute_type": "float16", "sample_rate": SAMPLE_RATE}
    (first / "options.json").write_text(json.dumps(options, indent=1))
    import subprocess

    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(make_sample.build()), "-ac", "1", "-ar", str(SAMPLE_RATE),
                          "-f", "s16le", "-"], check=True, capture_output=True).stdout
    np.save(first / "audio.npy", np.frombuffer(pcm, dtype=np.int16))
    model = Path(resolve(cfg.model))
    for f in model.iterdir():
        if f.is_file() and f.name != "model.bin" and not f.name.startswith("."):
            (first / f.name).write_bytes(f.read_bytes())
    data = (model / "model.bin").read_bytes()
    cuts = [0, first_part_mib << 20]
    while cuts[-1] < len(data):
        cuts.append(min(len(data), cuts[-1] + (part_mib << 20)))
    for n, (a, b) in enumerate(zip(cuts, cuts[1:]), 1):
        where = folder / str(n)
        where.mkdir(exist_ok=True)
        (where / f"model.bin.{n:02d}").write_bytes(data[a:b])
    print(f"{len(cuts) - 1} parts of the model and files/ in {folder}")


def measure(folder: Path, out: Path, minutes: float) -> None:
    import numpy as np
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model_dir = Path("/tmp/bench-gpu-model")
    model_dir.mkdir(exist_ok=True)
    with open(model_dir / "model.bin", "wb") as joined:
        for part in sorted(folder.glob("*/model.bin.*"), key=lambda p: p.name):
            joined.write(part.read_bytes())
    files = folder / "files"
    for f in files.iterdir():
        if f.suffix == ".json" and f.name != "options.json" or f.name.endswith(".txt"):
            (model_dir / f.name).write_bytes(f.read_bytes())
    options = json.loads((files / "options.json").read_text())
    rate = options["sample_rate"]
    one = np.load(files / "audio.npy").astype(np.float32) / 32768.0
    audio = np.tile(one, int(np.ceil(minutes * 60 * rate / len(one))))[: int(minutes * 60 * rate)]
    result: dict = {"audio_seconds": len(audio) / rate, "options": options}
    t0 = time.perf_counter()
    model = WhisperModel(str(model_dir), device="cuda", compute_type=options["compute_type"])
    result["model_load_s"] = round(time.perf_counter() - t0, 2)

    def run(name: str, transcribe, opts: dict) -> None:
        t0 = time.perf_counter()
        segments, _ = transcribe(audio, language="en", **opts)
        words = sum(len(s.words or []) for s in segments)
        seconds = time.perf_counter() - t0
        result[name] = {"seconds": round(seconds, 2), "words": words, "audio_seconds": len(audio) / rate,
                        "x_real_time": round(len(audio) / rate / seconds, 1)}
        print(name, result[name], flush=True)

    short = audio
    audio = short[: 60 * rate]
    run("warm_up_1min", BatchedInferencePipeline(model).transcribe, options["batched"])
    audio = short
    run("batched_float16", BatchedInferencePipeline(model).transcribe, options["batched"])
    run("sequential_float16", model.transcribe, options["sequential"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(result, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("folder", type=Path)
    p.add_argument("--part-mib", type=int, default=60)
    p.add_argument("--first-part-mib", type=int, default=18)
    m = sub.add_parser("measure")
    m.add_argument("folder", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    if args.cmd == "prepare":
        prepare(args.folder, args.part_mib, args.first_part_mib)
    else:
        measure(args.folder, args.out, args.minutes)


if __name__ == "__main__":
    main()
