"""The planner is pure: these tests build sentences and labels by hand."""

from clipper.config import load_config
from clipper.plan import build_plan, edge_windows, ends_thought, gap_windows, group_sentences
from clipper.types import Label, Segment, Segmentation, Sentence, SentenceList, Shots

CFG = load_config().plan
SP, PROMO, CHAT = Label.SELLING_POINT, Label.PROMO, Label.CHATTER


def make(rows, duration=200.0):
    """rows: (start, end, label, tags, product[, text]); the text ends with a full stop unless given."""
    sents, segs = [], []
    for i, (start, end, label, tags, product, *text) in enumerate(rows):
        sid = f"s{i:03d}"
        sents.append(Sentence(sid, start, end, text[0] if text else f"sentence {i}.", i, i))
        segs.append(Segment(sid, label, tuple(tags), product))
    return SentenceList("en", tuple(sents)), Segmentation("rules", "apparel", tuple(segs)), duration


def plan(rows, shots=None, kinds=("selling_point",), cfg=CFG):
    sl, seg, duration = make(rows)
    return build_plan(sl, seg, shots, kinds, cfg, duration), sl


def test_adjacent_selling_points_on_one_subject_merge_and_promo_stays_out():
    p, _ = plan([(0, 3, CHAT, [], 1), (4, 9, SP, ["fabric"], 1), (9.5, 15, SP, ["fabric", "skin_feel"], 1),
                 (15.5, 20, PROMO, [], 1), (21, 30, SP, ["fabric"], 1)])
    assert [c.sentence_ids for c in p.clips] == [("s001", "s002"), ("s004",)]
    assert p.clips[0].tags == ("fabric", "skin_feel")


def test_promo_included_when_config_asks():
    cfg = CFG.model_copy(update={"include_promo": True})
    p, _ = plan([(4, 9, SP, ["fabric"], 1), (9.5, 12, PROMO, [], 1), (12.5, 16, SP, ["fabric"], 1)], cfg=cfg)
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001", "s002")]


def test_product_change_and_subject_change_split_clips():
    p, _ = plan([(0, 5, SP, ["fabric"], 1), (5.5, 10, SP, ["fabric"], 1),   # 10 s of fabric
                 (10.5, 20, SP, ["color"], 1),                              # new subject: new clip
                 (20.5, 30, SP, ["color"], 2)])                             # new product: new clip
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001"), ("s002",), ("s003",)]
    assert [c.product for c in p.clips] == [1, 1, 2]


def test_subject_changes_split_only_where_the_host_ends_a_thought():
    # One run-on line the recogniser cut at its commas into three "sentences" with three
    # subjects; the clip may change subject at its full stop, not at the breaths.
    p, _ = plan([(0, 10, SP, ["fabric"], 1, "面料里面加了百分之五的氨纶，"),
                 (10.3, 13, SP, ["function"], 1, "所以弹力特别好，"),
                 (13.4, 16, SP, ["scenario"], 1, "蹲下坐下都不勒。"),
                 (16.6, 26, SP, ["size"], 1, "一百斤以内拍小码。")])
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001", "s002"), ("s003",)]
    assert set(p.clips[0].tags) == {"fabric", "function", "scenario"}


def test_without_punctuation_a_long_pause_ends_a_thought_and_a_breath_does_not():
    rows = [(0, 10, SP, ["fabric"], 1, "面料是天丝的"), (10 + CFG.end_pause, 20, SP, ["color"], 1, "颜色有三个"),
            (20 + CFG.end_pause / 2, 30, SP, ["size"], 1, "尺码很全")]
    p, _ = plan(rows)
    assert [c.sentence_ids for c in p.clips] == [("s000",), ("s001", "s002")]
    assert ends_thought(make(rows)[0].sentences, 1, CFG) and not ends_thought(make(rows)[0].sentences, 2, CFG)
    # English run-ons: a comma is no end, however the sentences were cut.
    p, _ = plan([(0, 10, SP, ["fabric"], 1, "The fabric is cool linen,"), (10.7, 20, SP, ["fit"], 1, "and it fits loose.")])
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001")]


def test_the_subject_compared_is_the_whole_next_thought():
    # The next thought opens on the fit but is about the fabric too: no new clip.
    p, _ = plan([(0, 10, SP, ["fabric"], 1, "面料是天丝的。"), (10.6, 13, SP, ["fit"], 1, "版型宽松，"),
                 (13.3, 20, SP, ["fabric"], 1, "面料也很透气。")])
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001", "s002")]


def test_a_run_past_max_seconds_breaks_at_its_latest_end_of_a_thought():
    # 5 s pieces of talk; full stops only after pieces 5 and 9 (ends at 30 s and 50 s).
    rows = [(i * 5.0 + 0.3, i * 5.0 + 5.0, SP, ["fabric"], 1, "这个面料很好。" if i in (5, 9) else "这个面料很好，")
            for i in range(16)]
    p, _ = plan(rows)
    assert p.clips[0].sentence_ids[-1] == "s009" and p.clips[1].sentence_ids[0] == "s010"
    assert all(c.duration <= CFG.max_seconds + 2 * CFG.max_pad for c in p.clips)
    # No end of a thought at all: the widest breath.
    rows = [(start + (0.3 if i == 7 else 0.0), end, *rest, "这个面料很好，") for i, (start, end, *rest, _) in enumerate(rows)]
    p, _ = plan(rows)
    assert p.clips[0].sentence_ids[-1] == "s006" and p.clips[1].sentence_ids[0] == "s007"


def test_short_groups_merge_into_a_neighbour_or_are_dropped_with_a_reason():
    p, _ = plan([(0, 5, SP, ["fabric"], 1), (5.5, 8, SP, ["color"], 1),    # short subject change: merged
                 (30, 33, SP, ["fit"], 1)])                                 # alone and short: dropped
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001")]
    assert p.dropped[0]["sentence_ids"] == ["s002"] and "shorter" in p.dropped[0]["reason"]


def test_long_runs_respect_max_seconds():
    rows = [(i * 10.0, i * 10.0 + 9.5, SP, ["fabric"], 1) for i in range(15)]
    p, _ = plan(rows)
    assert len(p.clips) >= 3
    assert all(c.duration <= CFG.max_seconds + 2 * CFG.max_pad for c in p.clips)


def test_edges_pad_only_into_silence_and_never_reach_a_neighbour():
    p, sl = plan([(0, 10.0, CHAT, [], 1), (10.2, 15, SP, ["fit"], 1), (15.4, 20, SP, ["fit"], 1),
                  (20.1, 25, CHAT, [], 1)])
    clip = p.clips[0]
    assert 10.0 < clip.start <= 10.2 and clip.start == 10.1  # half of the 0.2 s gap
    assert 20.0 <= clip.end < 20.1
    assert clip.start_reason == "pause" and clip.end_reason == "pause"


def test_edges_snap_to_a_scene_cut_inside_the_silence():
    rows = [(0, 5, CHAT, [], 1), (6, 12, SP, ["fit"], 1), (12.5, 18, SP, ["fit"], 1), (20, 25, CHAT, [], 1)]
    sl, seg, duration = make(rows)
    groups, _ = group_sentences(sl, seg, ["selling_point"], CFG)
    windows = edge_windows(groups, sl, duration, CFG)
    # The side of each gap its edge uses: the clip's end may snap into 18-19, nothing starts at 20.
    assert windows == [(5.0, 6.0), (18.0, 19.0)]
    # Both sides of a gap, whichever edge lies there, when the prefetch reads gaps ahead.
    assert edge_windows(groups, sl, duration, CFG, whole_gaps=True) == [(5.0, 6.0), (18.0, 20.0)]
    shots = Shots(windows=tuple(windows), cuts=(5.4, 12.2, 18.6))   # 12.2 is mid-clip: ignored
    p = build_plan(sl, seg, shots, ["selling_point"], CFG, duration)
    assert (p.clips[0].start, p.clips[0].end) == (5.4, 18.6)
    assert p.clips[0].start_reason == p.clips[0].end_reason == "scene"


def test_a_gaps_windows_depend_on_the_gap_alone():
    assert gap_windows(5.0, 6.0, CFG) == [(5.0, 6.0)]
    assert gap_windows(10.0, 10.0, CFG) == []
    snap = CFG.snap_window
    assert gap_windows(10.0, 20.0, CFG) == [(10.0, 10.0 + snap), (20.0 - snap, 20.0)]
    # A group ending at a gap and one starting after it read the same stretches.
    rows = [(0, 5, SP, ["fit"], 1), (5.2, 9, SP, ["fit"], 1), (9.3, 15, CHAT, [], 1), (19, 30, SP, ["fabric"], 1)]
    sl, seg, duration = make(rows)
    groups, _ = group_sentences(sl, seg, ["selling_point"], CFG)
    windows = edge_windows(groups, sl, duration, CFG, whole_gaps=True)
    assert (9.0, 9.3) in windows and (15.0, 15.0 + snap) in windows and (19.0 - snap, 19.0) in windows
    # Without the prefetch only the start's side of 15-19 is read.
    assert edge_windows(groups, sl, duration, CFG) == [(9.0, 9.3), (19.0 - snap, 19.0), (30.0, min(duration, 30 + snap))]


def test_no_selling_points_means_no_clips():
    p, _ = plan([(0, 5, CHAT, [], 1), (6, 12, PROMO, [], 1)])
    assert p.clips == ()


def test_kinds_select_promo_clips():
    p, _ = plan([(0, 5, SP, ["fit"], 1), (6, 12, PROMO, [], 1), (12.5, 16, PROMO, [], 1)], kinds=("promo",))
    assert [c.kind for c in p.clips] == ["promo"] and p.clips[0].sentence_ids == ("s001", "s002")


def test_time_bound_claims_stay_out_of_selling_point_clips():
    sl, seg, duration = make([(0, 5, SP, ["fabric"], 1), (5.5, 10, SP, ["fabric"], 1), (10.5, 16, SP, ["fabric"], 1),
                              (16.5, 25, SP, ["fabric"], 1)])
    marked = Segmentation("rules", "apparel", tuple(
        s if s.sentence_id != "s003" else Segment(s.sentence_id, s.label, s.tags, s.product, time_bound=True)
        for s in seg.segments))
    p = build_plan(sl, marked, None, ["selling_point"], CFG, duration)
    assert [c.sentence_ids for c in p.clips] == [("s000", "s001", "s002")]
    loose = CFG.model_copy(update={"evergreen": False})
    assert build_plan(sl, marked, None, ["selling_point"], loose, duration).clips[0].sentence_ids[-1] == "s003"


def test_repeated_pitches_are_ranked_and_the_best_marked():
    rows = [(0, 12, SP, ["fabric"], 1), (20, 26, CHAT, [], 1), (30, 48, SP, ["fabric"], 1), (55, 70, SP, ["fit"], 1)]
    sl, seg, duration = make(rows)
    scored = Segmentation("rules", "apparel", tuple(
        Segment(s.sentence_id, s.label, s.tags, s.product, score={"s000": 0.4, "s002": 0.9}.get(s.sentence_id, 0.5))
        for s in seg.segments))
    p = build_plan(sl, scored, None, ["selling_point"], CFG, duration)
    by_id = {c.sentence_ids[0]: c for c in p.clips}
    assert (by_id["s002"].take, by_id["s002"].best_take) == (1, True)
    assert (by_id["s000"].take, by_id["s000"].best_take) == (2, False)
    assert by_id["s003"].best_take  # the only "fit" take


def test_each_clip_carries_its_products_category():
    sl, seg, duration = make([(0, 5, SP, ["fabric"], 1), (5.5, 10, SP, ["fabric"], 1),
                              (12, 17, SP, ["ingredient"], 2), (17.5, 22, SP, ["ingredient"], 2)])
    cats = ("apparel", "apparel", "beauty", "beauty")
    seg = Segmentation("embed", "apparel", tuple(s.__class__(**{**s.__dict__, "category": c})
                                                 for s, c in zip(seg.segments, cats)))
    p = build_plan(sl, seg, None, ("selling_point",), CFG, duration)
    assert [(c.product, c.category) for c in p.clips] == [(1, "apparel"), (2, "beauty")]
    # Without per-product categories the stream's category is used.
    p, _ = plan([(0, 5, SP, ["fabric"], 1), (5.5, 10, SP, ["fabric"], 1)])
    assert p.clips[0].category == "apparel"
