#!/usr/bin/env python3
"""Labelling real host speech without copying it: make batches, check and merge labels.

  labelling.py batches --out /tmp/lab [--per-channel 1 --extra 20 --size 20] [--skip-labelled FILE]
      picks passages from ../shared/salestalk across every channel (seeded), leaving out the
      passages already labelled in FILE (e.g. training/labels/salestalk_zh.jsonl), and writes
      batch_NN.jsonl files *outside the repository* holding the text to label, one sentence a
      line with its key (file, span, sha1).
  labelling.py merge OUT.jsonl... --into training/labels/salestalk_zh.jsonl
      validates labelled rows (keys, labels, tags, one category per passage) and writes only
      keys and labels into the repository file: never text.
  labelling.py kappa FIRST.jsonl SECOND.jsonl
      Cohen's kappa of two independent passes over the same keys.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clipper.segment.corpus import load_salestalk, read_jsonl, text_hash  # noqa: E402
from clipper.segment.labelset import CATEGORIES, LABELS, TAGS, kappa  # noqa: E402

KEYS = ("file", "span", "sha1", "label", "tags", "new_product", "category")


def make_batches(out: Path, per_channel: int, extra: int, size: int, seed: int,
                 skip: Path | None = None) -> None:
    passages = load_salestalk()
    done = {r["file"] for r in read_jsonl(skip)} if skip and skip.exists() else set()
    by_channel: dict[str, list[str]] = defaultdict(list)
    for name, p in sorted(passages.items()):
        if name not in done and 3 <= len(p.sentences()) <= 30:
            by_channel[f"{p.platform}/{p.channel}"].append(name)
    rng = random.Random(seed)
    chosen: list[str] = []
    for channel in sorted(by_channel):
        chosen += rng.sample(by_channel[channel], min(per_channel, len(by_channel[channel])))
    rest = [n for c in sorted(by_channel) for n in by_channel[c] if n not in chosen]
    chosen += rng.sample(rest, min(extra, len(rest)))
    rng.shuffle(chosen)
    out.mkdir(parents=True, exist_ok=True)
    for b in range(0, len(chosen), size):
        with open(out / f"batch_{b // size:02d}.jsonl", "w", encoding="utf-8") as f:
            for name in chosen[b:b + size]:
                p = passages[name]
                for (a, z), text in p.sentences():
                    f.write(json.dumps({"file": name, "span": [a, z], "sha1": text_hash(text),
                                        "channel": p.channel, "text": text}, ensure_ascii=False) + "\n")
    print(f"{len(chosen)} passages from {len(by_channel)} channels in {out}"
          + (f" ({len(done)} labelled passages left out)" if done else ""))


def check(rows: list[dict], passages) -> list[str]:
    problems = []
    cats: dict[str, set] = defaultdict(set)
    for r in rows:
        key = f"{r.get('file')}:{r.get('span')}"
        p = passages.get(r.get("file"))
        if p is None or not isinstance(r.get("span"), list):
            problems.append(f"{key}: unknown file or bad span")
            continue
        a, b = r["span"]
        if text_hash(p.text[a:b]) != r.get("sha1"):
            problems.append(f"{key}: hash does not match")
        if r.get("label") not in LABELS:
            problems.append(f"{key}: label {r.get('label')!r}")
        tags = r.get("tags") or []
        if any(t not in TAGS for t in tags) or (r.get("label") == "SELLING_POINT" and not tags):
            problems.append(f"{key}: tags {tags}")
        if r.get("category") not in CATEGORIES:
            problems.append(f"{key}: category {r.get('category')!r}")
        cats[r["file"]].add(r.get("category"))
    problems += [f"{f}: several categories {c}" for f, c in cats.items() if len(c) > 1]
    return problems


def merge(sources: list[Path], into: Path) -> None:
    passages = load_salestalk()
    rows = [r for s in sources for r in read_jsonl(s)]
    problems = check(rows, passages)
    if problems:
        sys.exit("labels rejected:\n  " + "\n  ".join(problems[:40]))
    seen = {}
    for r in (read_jsonl(into) if into.exists() else []) + rows:
        clean = {k: r.get(k) for k in KEYS}
        clean["tags"] = clean["tags"] if clean["label"] == "SELLING_POINT" else []
        clean["new_product"] = bool(clean["new_product"])
        seen[(clean["file"], tuple(clean["span"]))] = clean
    ordered = sorted(seen.values(), key=lambda r: (r["file"], r["span"][0]))
    into.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered), encoding="utf-8")
    print(f"{len(ordered)} labelled sentences in {into} "
          f"({len({r['file'] for r in ordered})} passages)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("batches")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument("--per-channel", type=int, default=1)
    b.add_argument("--extra", type=int, default=20)
    b.add_argument("--size", type=int, default=20)
    b.add_argument("--seed", type=int, default=8)
    b.add_argument("--skip-labelled", type=Path, default=None, metavar="FILE",
                   help="leave out the passages already labelled in this label file")
    m = sub.add_parser("merge")
    m.add_argument("sources", type=Path, nargs="+")
    m.add_argument("--into", type=Path, required=True)
    k = sub.add_parser("kappa")
    k.add_argument("first", type=Path)
    k.add_argument("second", type=Path)
    args = ap.parse_args()
    if args.cmd == "batches":
        make_batches(args.out, args.per_channel, args.extra, args.size, args.seed, args.skip_labelled)
    elif args.cmd == "merge":
        merge(args.sources, args.into)
    else:
        a = {(r["file"], tuple(r["span"])): r["label"] for r in read_jsonl(args.first)}
        b2 = {(r["file"], tuple(r["span"])): r["label"] for r in read_jsonl(args.second)}
        keys = sorted(a.keys() & b2.keys())
        print(f"{len(keys)} sentences in both passes; agreement "
              f"{sum(a[k] == b2[k] for k in keys) / max(1, len(keys)):.3f}; "
              f"Cohen's kappa {kappa([a[k] for k in keys], [b2[k] for k in keys]):.3f}")


if __name__ == "__main__":
    main()
