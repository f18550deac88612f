"""The rules backend (the fallback of the trained one) against the labelled development set (tests/data/dev_*.jsonl).

The set was written for this project: realistic host talk across apparel, beauty, electronics
and food, with passages of consecutive speech, run-ons, fillers and recogniser-style slips.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clipper.config import load_category, load_config
from clipper.segment.base import Item, classify_items
from clipper.segment.evaluate import evaluate, read_labelled, score
from clipper.types import Label, Segment

DATA = Path(__file__).parent / "data"


def rules(items, category):
    cfg = load_config(overrides={"segment": {"backend": "rules", "category": category}}).segment
    return classify_items(items, cfg, load_category(category))[0]


@pytest.mark.parametrize("lang,minimum", [("zh", 300), ("en", 150)])
def test_dev_set_shape(lang, minimum):
    rows = read_labelled(DATA / f"dev_{lang}.jsonl")
    assert len(rows) >= minimum
    assert len({r["category"] for r in rows}) >= 4
    assert {r["label"] for r in rows} == {"SELLING_POINT", "PROMO", "CHATTER"}
    assert len({r["passage"] for r in rows}) >= 10


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rules_macro_f1_at_least_0_80(lang):
    scores = evaluate(read_labelled(DATA / f"dev_{lang}.jsonl"), rules, "apparel")
    assert scores.macro_f1 >= 0.80, scores.per_label
    assert scores.tag_hit >= 0.6


def test_rules_on_the_held_out_set():
    """holdout_zh.jsonl was written after the cue lists were tuned and never used to tune them
    (0.90 macro-F1 when first measured): a regression guard with a looser bar."""
    scores = evaluate(read_labelled(DATA / "holdout_zh.jsonl"), rules, "apparel")
    assert scores.macro_f1 >= 0.75, scores.per_label


def test_metrics_are_computed_correctly():
    gold = [{"label": "SELLING_POINT", "tags": ["fabric"]}, {"label": "PROMO"}, {"label": "CHATTER"},
            {"label": "SELLING_POINT", "tags": ["fit"]}]
    pred = [Segment("1", Label.SELLING_POINT, ("fabric",)), Segment("2", Label.PROMO),
            Segment("3", Label.PROMO), Segment("4", Label.CHATTER)]
    s = score(gold, pred)
    assert s.per_label["SELLING_POINT"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert s.per_label["PROMO"]["precision"] == 0.5 and s.per_label["CHATTER"]["f1"] == 0.0
    assert s.confusion["CHATTER"]["PROMO"] == 1 and s.tag_hit == 1.0
    assert s.accuracy == 0.5


def test_products_and_time_bound_claims_are_marked():
    items = [Item("1", "This linen shirt is so breathable.", "p"), Item("2", "Tonight only, link is up!", "p"),
             Item("3", "Next up are our high waist jeans.", "q"), Item("4", "下一款是我们的真丝连衣裙", "r")]
    segs = rules(items, "apparel")
    assert [s.product for s in segs] == [1, 1, 2, 3]
    assert [s.time_bound for s in segs] == [False, True, False, False]


def test_eval_command_prints_the_report():
    proc = subprocess.run([sys.executable, "-m", "clipper.cli", "eval", str(DATA / "dev_en.jsonl"), "--backend", "rules"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for needle in ("precision", "macro-F1", "tag hit", "confusion", "per 100 sentences"):
        assert needle in proc.stdout


def test_salestalk_transcripts_get_all_three_labels():
    """Real host speech (../shared/salestalk, not in the repo): every label occurs, none dominates."""
    path = Path(__file__).resolve().parents[2] / "shared" / "salestalk" / "live_asr_zh.json"
    if not path.is_file():
        pytest.skip("../shared/salestalk not present")
    import re

    records = json.loads(path.read_text(encoding="utf-8"))[:200]
    items = [Item(f"{i}-{j}", s, str(i)) for i, r in enumerate(records)
             for j, s in enumerate(x for x in re.split(r"(?<=[。！？!?])", r["asr_result_para"]) if x.strip())]
    counts = {label: 0 for label in Label}
    for seg in rules(items, "food"):
        counts[seg.label] += 1
    shares = {k.value: v / len(items) for k, v in counts.items()}
    assert all(0.1 < share < 0.7 for share in shares.values()), shares
