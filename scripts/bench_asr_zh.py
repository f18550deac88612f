#!/usr/bin/env python3
"""Mandarin recognition, measured: decode settings x character error rate x speed.

    .venv/bin/python scripts/bench_asr_zh.py [--settings NAME,...] [--threads 2] [--model base]
    .venv/bin/python scripts/bench_asr_zh.py --write-refs DIR     # (re)make the edit scripts

Reads the nine real Mandarin recordings in ``../shared/media/zh_*.wav`` and their references
(``training/asr_refs/*.json``: edit scripts against the rough transcripts in
``../shared/media/transcripts/``, rebuilt and hash-checked here, see that folder's README),
and, when it exists, the Mandarin sample ``sample_media/sample_stream_zh.mp4`` with the text of
its ground truth ``sample_stream_zh.truth.json``. Each setting decodes every recording through
clipper's own transcription (``transcribe_audio``, so the dropped-speech pass and hotwords are
the pipeline's), and prints one table row:

- CER: character errors / reference characters, after normalisation (``transcribe.evaluate``);
- RTF: decoding seconds / audio seconds on this machine with ``--threads`` threads;
- terms: each recording's names and key terms (as a user would list them in
  ``transcribe.vocabulary``) missed / occurring, and written where the reference has none;
- category words: the same for the categories' tag words found in the references.

The homophone rows correct a decode's words afterwards (``transcribe.vocabulary.correct``, with
the terms and every category's words), so they reuse that decode. Decodes are cached in
``--cache`` by setting, recording, audio file and the code of ``clipper/transcribe``. Results go to
``bench/results/<date>-<machine>-asr-zh.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
REFS = ROOT / "training" / "asr_refs"
SAMPLE = ROOT / "sample_media" / "sample_stream_zh.mp4"

# The decodes: transcribe overrides on top of configs/default.toml (language fixed to zh).
OFF = {"redecode_dropped": False, "hotwords": False}
DECODES = {
    "greedy": {"beam_size_zh": 1, **OFF},
    "greedy + redecode": {"beam_size_zh": 1, "redecode_dropped": True, "hotwords": False},
    "beam 5": {"beam_size_zh": 5, **OFF},
    "beam 5 without prompt": {"beam_size_zh": 5, "prompt_zh": "", **OFF},
    "beam 5 without VAD": {"beam_size_zh": 5, "vad": False, **OFF},
    "beam 5 + redecode": {"beam_size_zh": 5, "redecode_dropped": True, "hotwords": False},
    "beam 5 + redecode without fallback": {"beam_size_zh": 5, "redecode_dropped": True, "hotwords": False,
                                       "fallback": False},
    "greedy + redecode without fallback": {"beam_size_zh": 1, "redecode_dropped": True, "hotwords": False,
                                       "fallback": False},
    "beam 5 + redecode + hotwords (terms)": {"beam_size_zh": 5, "redecode_dropped": True, "hotwords": True},
    # The categories' tag words put after the terms, as many as fit (what hotwords() allows).
    "beam 5 + redecode + hotwords (terms + categories)": {"beam_size_zh": 5, "redecode_dropped": True,
                                                         "hotwords": True, "with_categories": True},
    "beam 10 + redecode": {"beam_size_zh": 10, "redecode_dropped": True, "hotwords": False},
}
# Rows that correct a decode's words afterwards: (row name, decode, homophones mode).
CORRECTED = [
    ("greedy + homophones (exact)", "greedy", "exact"),
    ("beam 5 + redecode + homophones (exact)", "beam 5 + redecode", "exact"),
    ("beam 5 + redecode + homophones (near)", "beam 5 + redecode", "near"),
    ("beam 5 + redecode + hotwords (terms) + homophones (exact)", "beam 5 + redecode + hotwords (terms)", "exact"),
    ("beam 5 + redecode + hotwords (terms + categories) + homophones (exact)",
     "beam 5 + redecode + hotwords (terms + categories)", "exact"),
]


def load_recordings() -> list[dict]:
    """[{name, audio path, reference, terms}] for the real recordings and the sample."""
    from clipper.transcribe.evaluate import load_reference, normalise

    items = []
    if (MEDIA / "transcripts").is_dir():
        for script in sorted(REFS.glob("zh_*.json")):
            ref = load_reference(script, MEDIA / "transcripts")
            items.append({"name": ref.name, "audio": MEDIA / f"{ref.name}.wav", "ref": normalise(ref.text),
                          "terms": list(ref.terms), "uncertain": ref.uncertain_chars, "real": True})
    truth = SAMPLE.with_name("sample_stream_zh.truth.json")
    if SAMPLE.is_file() and truth.is_file():
        data = json.loads(truth.read_text(encoding="utf-8"))
        text = "".join(line["text"] for line in data.get("lines", []))
        names = [p["name"] if isinstance(p, dict) else str(p) for p in data.get("products", [])
                 if isinstance(p, (dict, str)) and (not isinstance(p, dict) or "name" in p)]
        items.append({"name": SAMPLE.stem, "audio": SAMPLE, "ref": normalise(text), "terms": names,
                      "uncertain": 0, "real": False})
    return items


_WARM: set[int] = set()


def decode(item: dict, setting: str, args, cache: Path) -> dict:
    """{words, segments, seconds} of one recording under one setting, cached."""
    from clipper.config import load_config

    overrides = {**DECODES[setting], "language": "zh", "threads": args.threads, "model": args.model,
                 "vocabulary": item["terms"], "homophones": "off"}
    if overrides.pop("with_categories", False):
        from clipper.transcribe.vocabulary import vocabulary

        overrides["vocabulary"] = list(vocabulary(item["terms"], ["all"]))
    stat = item["audio"].stat()
    code = [p.read_bytes().decode() for p in sorted((ROOT / "clipper" / "transcribe").glob("*.py"))]
    key = hashlib.sha256(json.dumps([overrides, stat.st_size, stat.st_mtime_ns, code], sort_keys=True,
                                    ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache / f"{item['name']}-{key}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from faster_whisper.audio import decode_audio

    from clipper.transcribe.whisper import load_model, transcribe_audio

    cfg = load_config(overrides={"transcribe": overrides}).transcribe
    model = load_model(cfg)
    audio = decode_audio(str(item["audio"]), sampling_rate=16000)
    if id(model) not in _WARM:          # the first decode of a process pays for lazy set-up
        transcribe_audio(model, audio[:16000 * 5], 0.0, cfg, "zh")
        _WARM.add(id(model))
    began = time.perf_counter()
    chunk = transcribe_audio(model, audio, 0.0, cfg, "zh")
    result = {"chunk": chunk.to_dict(), "seconds": time.perf_counter() - began, "duration": len(audio) / 16000}
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    print(f"  {setting:<50} {item['name']:<36} {result['seconds']:6.1f} s", file=sys.stderr)
    return result


def score(items: list[dict], results: list[dict], vocab: tuple[str, ...], mode: str | None) -> dict:
    """One row: CER (real, sample), RTF, term and category-word scores."""
    from clipper.transcribe import vocabulary as vocab_mod
    from clipper.transcribe.evaluate import WordScore, char_errors, normalise, word_score
    from clipper.transcribe.whisper import ChunkResult

    matcher = vocab_mod.Matcher(vocab, mode) if mode else None
    errors = {True: 0, False: 0}
    chars = {True: 0, False: 0}
    seconds = duration = 0.0
    terms = WordScore(0, 0, 0)
    category = WordScore(0, 0, 0)
    corrections = 0
    for item, result in zip(items, results):
        chunk = ChunkResult.from_dict(result["chunk"])
        words, extra = list(chunk.words), 0.0
        if matcher:
            began = time.perf_counter()
            words, _, fixed = vocab_mod.correct(words, chunk.segments, matcher)
            extra = time.perf_counter() - began
            corrections += len(fixed)
        hyp = normalise("".join(w.text for w in words))
        errors[item["real"]] += char_errors(item["ref"], hyp)
        chars[item["real"]] += len(item["ref"])
        if item["real"]:
            seconds += result["seconds"] + extra
            duration += result["duration"]
        terms += word_score(item["ref"], hyp, item["terms"])
        present = [w for w in vocab if normalise(w) in item["ref"] and w not in item["terms"]]
        category += word_score(item["ref"], hyp, [normalise(w) for w in present])
    return {"cer_real": errors[True] / chars[True] if chars[True] else None,
            "cer_sample": errors[False] / chars[False] if chars[False] else None,
            "rtf": seconds / duration if duration else None, "terms": terms.__dict__,
            "category_words": category.__dict__, "corrections": corrections}


def table(rows: dict[str, dict]) -> str:
    def pct(v):
        return "–" if v is None else f"{100 * v:.1f} %"

    def ws(d):
        return "–" if not d["occurrences"] and not d["spurious"] else \
            f"{d['missed']}/{d['occurrences']} ({100 * d['missed'] / max(1, d['occurrences']):.0f} %), +{d['spurious']}"

    out = ["| setting | CER real | CER sample | RTF | terms missed (+ spurious) | category words missed (+ spurious) |",
           "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        rtf = "–" if r["rtf"] is None else f"{r['rtf']:.3f}"
        out.append(f"| {name} | {pct(r['cer_real'])} | {pct(r['cer_sample'])} | {rtf} | {ws(r['terms'])} | "
                   f"{ws(r['category_words'])} |")
    return "\n".join(out)


def write_refs(folder: Path) -> None:
    """Edit scripts from plain references: DIR/<name>.txt, optional <name>.uncertain (text TAB
    note per line) and <name>.terms (one per line)."""
    from clipper.transcribe.evaluate import make_edits, rough_text

    REFS.mkdir(parents=True, exist_ok=True)
    def lines(path: Path) -> list[str]:
        return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()] if path.is_file() else []

    for ref in sorted(folder.glob("zh_*.txt")):
        name = ref.stem
        script = make_edits(name, rough_text(MEDIA / "transcripts" / f"{name}.txt"),
                            ref.read_text(encoding="utf-8").strip("\n"),
                            [tuple(ln.split("\t", 1)) for ln in lines(ref.with_suffix(".uncertain"))],
                            lines(ref.with_suffix(".terms")))
        (REFS / f"{name}.json").write_text(_compact(script), encoding="utf-8")
        print(f"{name}: {len(script['edits'])} edits, {len(script['uncertain'])} uncertain spans")


def _compact(script: dict) -> str:
    """JSON with one edit, span or term per line: a changed reference is a readable diff."""
    parts = []
    for key, value in script.items():
        if isinstance(value, list):
            inner = ",\n  ".join(json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f' "{key}": [\n  {inner}\n ]' if value else f' "{key}": []')
        else:
            parts.append(f' "{key}": {json.dumps(value, ensure_ascii=False)}')
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", help="comma-separated row names (default: all, in the table's order)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="base")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/clipper-bench-asr-zh"))
    ap.add_argument("--write-refs", type=Path, metavar="DIR")
    ap.add_argument("--no-save", action="store_true", help="do not write bench/results")
    args = ap.parse_args()
    if args.write_refs:
        return write_refs(args.write_refs)

    from clipper.transcribe.vocabulary import vocabulary

    items = load_recordings()
    if not items:
        sys.exit("no Mandarin recordings: ../shared/media is absent and there is no sample_stream_zh.mp4")
    wanted = args.settings.split(",") if args.settings else list(DECODES) + [c[0] for c in CORRECTED]
    rows: dict[str, dict] = {}
    for name in wanted:
        known = {n: (n, None) for n in DECODES} | {n: (d, m) for n, d, m in CORRECTED}
        if name not in known:
            sys.exit(f"unknown setting {name!r}; the settings are: {', '.join(known)}")
        decoded, mode = known[name]
        results = [decode(item, decoded, args, args.cache) for item in items]
        vocab = vocabulary([t for item in items for t in item["terms"]], ["all"])
        rows[name] = score(items, results, vocab, mode)
    real = [i for i in items if i["real"]]
    print(f"{len(real)} real recordings, {sum(len(i['ref']) for i in real)} reference characters "
          f"({sum(i['uncertain'] for i in real)} in uncertain spans); sample: "
          f"{'yes' if len(items) > len(real) else 'absent'}; model {args.model}, {args.threads} threads")
    print(table(rows))
    if not args.no_save:
        out = ROOT / "bench" / "results" / f"{date.today()}-{platform.node() or 'machine'}-asr-zh.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        summary = {"model": args.model, "threads": args.threads, "real_recordings": len(real),
                   "reference_chars": sum(len(i["ref"]) for i in real),
                   "uncertain_chars": sum(i["uncertain"] for i in real), "sample": len(items) > len(real)}
        out.write_text(json.dumps({**summary, "rows": rows}, indent=1) + "\n")
        print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
