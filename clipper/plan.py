"""The cut plan (pure): sentences + labels + scene cuts + config -> CutPlan.

1. ``group_sentences``: runs of sentences of a wanted kind become clip candidates. A run
   breaks at a product change, a silence longer than ``merge_gap``, the ``max_seconds``
   limit, or (selling points) a change of subject once the clip is long enough. A change of
   subject splits only where the host ends a thought (``ends_thought``): the recogniser's
   sentences are often pieces of one run-on line, cut at a comma or a breath, and the pieces
   of one thought can carry different tags; they stay together, and the subject compared is
   the whole next thought's. A run over ``max_seconds`` breaks at its best break: the
   latest end of a thought, else the widest pause. Groups shorter than ``min_seconds`` merge
   into a same-product neighbour or are dropped, and the drop is recorded with its reason.
2. ``edge_windows``: where a scene cut could move an edge — the silence before the first
   word and after the last word, at most ``snap_window`` of it (both sides of each such gap,
   ``gap_windows``, when the scene prefetch reads gaps ahead). Only these windows are decoded
   for scene detection.
3. ``build_plan``: each edge goes to a scene cut inside that silence when there is one,
   else pads into the silence (at most ``max_pad``, at most half the gap, so a clip never
   takes a neighbour's word). Edges therefore always fall between sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from .config import PlanConfig
from .text import ends_clause, ends_sentence, is_cjk
from .types import ClipSpec, CutPlan, Segment, Segmentation, Sentence, SentenceList, Shots


@dataclass(frozen=True)
class Group:
    kind: str
    product: int
    first: int          # sentence indices, inclusive
    last: int


def _labels(sentences: SentenceList, segmentation: Segmentation) -> list[Segment]:
    by_id = {s.sentence_id: s for s in segmentation.segments}
    return [by_id[s.id] for s in sentences.sentences]


def _kind_of(seg: Segment, kinds: Sequence[str], cfg: PlanConfig, current: str | None) -> str | None:
    """The clip kind this sentence can belong to, given the group being built."""
    kind = seg.label.kind
    if kind == "selling_point" and seg.time_bound and cfg.evergreen and not cfg.include_promo:
        return None  # "tonight only" would date the clip: it stays out, and splits the run
    if current == "selling_point" and kind == "promo" and cfg.include_promo:
        return "selling_point"
    return kind if kind in kinds else None


def group_sentences(sentences: SentenceList, segmentation: Segmentation, kinds: Sequence[str],
                    cfg: PlanConfig) -> tuple[list[Group], list[dict]]:
    sents = sentences.sentences
    segs = _labels(sentences, segmentation)
    groups: list[Group] = []
    current: Group | None = None
    tags: set[str] = set()
    for i, seg in enumerate(segs):
        kind = _kind_of(seg, kinds, cfg, current.kind if current else None)
        if current is not None and kind == current.kind:
            why = _breaks(current, tags, sents, segs, i, cfg)
            if why is None:
                current = Group(current.kind, current.product, current.first, i)
                tags |= _tags(seg)
                continue
            cut = _best_break(current, sents, segs, i, cfg) if why == "long" else i
            if cut < i:  # the run goes on in a new clip from an earlier, better break
                groups.append(Group(current.kind, current.product, current.first, cut - 1))
                current = Group(current.kind, current.product, cut, i)
                tags = set().union(*(_tags(s) for s in segs[cut:i + 1]))
                continue
        if current is not None:
            groups.append(current)
            current = None
        if kind is not None:
            current, tags = Group(kind, seg.product, i, i), _tags(seg)
    if current is not None:
        groups.append(current)
    return _settle_short(groups, sents, cfg)


def _tags(seg: Segment) -> set[str]:
    return set(seg.tags) - {"other"}


def ends_thought(sents: Sequence[Sentence], i: int, cfg: PlanConfig) -> bool:
    """Does the host end a thought between sentence ``i - 1`` and sentence ``i``?

    Yes after a full stop, question or exclamation mark, or at a pause of at least
    ``end_pause`` after a sentence without punctuation (Chinese often comes without any).
    No where the recogniser wrote a comma or another clause mark, however its sentence
    splitter cut there: that is a breath inside a run-on line (unless the silence is longer
    than ``merge_gap``, which ends any clip). A missed end costs a longer clip; a false one
    cuts a line in two."""
    if i <= 0 or i >= len(sents):
        return True
    gap = sents[i].start - sents[i - 1].end
    words = sents[i - 1].text.split()
    last = words[-1] if words else ""
    if ends_sentence(last) or gap > cfg.merge_gap:
        return True
    return not ends_clause(last) and gap >= cfg.end_pause


def _thought_tags(sents: Sequence[Sentence], segs: Sequence[Segment], i: int, group: Group,
                  cfg: PlanConfig) -> set[str]:
    """The subject of the thought that starts at sentence ``i``: the tags of its sentences up
    to the next end of a thought (those of the group's kind and product)."""
    tags: set[str] = set()
    j = i
    while j < len(segs) and segs[j].product == group.product and segs[j].label.kind == segs[i].label.kind:
        tags |= _tags(segs[j])
        j += 1
        if ends_thought(sents, j, cfg):
            break
    return tags


def _breaks(group: Group, tags: set[str], sents: Sequence[Sentence], segs: Sequence[Segment], i: int,
            cfg: PlanConfig) -> str | None:
    """Why the run ``group`` does not take sentence ``i``, or None when it does."""
    if segs[i].product != group.product:
        return "product"
    if sents[i].start - sents[i - 1].end > cfg.merge_gap:
        return "silence"
    if sents[i].end - sents[group.first].start > cfg.max_seconds:
        return "long"
    if group.kind != "selling_point" or not tags or not ends_thought(sents, i, cfg):
        return None
    long_enough = sents[i - 1].end - sents[group.first].start >= cfg.min_seconds
    new_tags = _thought_tags(sents, segs, i, group, cfg)
    return "subject" if long_enough and new_tags and not (tags & new_tags) else None


def _best_break(group: Group, sents: Sequence[Sentence], segs: Sequence[Segment], i: int,
                cfg: PlanConfig) -> int:
    """Where a run that sentence ``i`` would take past ``max_seconds`` breaks (the first sentence
    of the next clip): the latest end of a thought that leaves this clip ``min_seconds`` and the
    next one within ``max_seconds``, else the widest pause there; ``i`` when there is none."""
    start = sents[group.first].start
    fits = [j for j in range(group.first + 1, i + 1)
            if sents[j - 1].end - start >= cfg.min_seconds and sents[i].end - sents[j].start <= cfg.max_seconds
            and segs[j].label.kind == group.kind]
    if not fits:
        return i
    ends = [j for j in fits if ends_thought(sents, j, cfg)]
    return max(ends) if ends else max(fits, key=lambda j: (sents[j].start - sents[j - 1].end, j))


def _span(g: Group, sents: Sequence[Sentence]) -> float:
    return sents[g.last].end - sents[g.first].start


def _settle_short(groups: list[Group], sents: Sequence[Sentence], cfg: PlanConfig) -> tuple[list[Group], list[dict]]:
    """Merge short groups into an adjacent one of the same kind and product, else drop them."""
    out: list[Group] = []
    for g in groups:
        prev = out[-1] if out else None
        if (prev is not None and prev.kind == g.kind and prev.product == g.product
                and sents[g.first].start - sents[prev.last].end <= cfg.merge_gap
                and sents[g.last].end - sents[prev.first].start <= cfg.max_seconds
                and (_span(prev, sents) < cfg.min_seconds or _span(g, sents) < cfg.min_seconds)):
            out[-1] = Group(prev.kind, prev.product, prev.first, g.last)
        else:
            out.append(g)
    kept, dropped = [], []
    for g in out:
        if _span(g, sents) >= cfg.min_seconds or cfg.keep_short:
            kept.append(g)
        else:
            dropped.append({"kind": g.kind, "product": g.product, "start": sents[g.first].start,
                            "end": sents[g.last].end, "reason": f"shorter than {cfg.min_seconds:g}s",
                            "sentence_ids": [s.id for s in sents[g.first:g.last + 1]]})
    return kept, dropped


def _gaps(g: Group, sents: Sequence[Sentence], duration: float) -> tuple[float, float, float, float]:
    """(silence before start, speech start, speech end, silence after end) for a group."""
    before = sents[g.first - 1].end if g.first > 0 else 0.0
    after = sents[g.last + 1].start if g.last + 1 < len(sents) else duration
    return before, sents[g.first].start, sents[g.last].end, after


def gap_windows(before: float, after: float, cfg: PlanConfig) -> list[tuple[float, float]]:
    """Where a scene cut may become an edge in the silence from ``before`` (a sentence's end)
    to ``after`` (the next one's start): at most ``snap_window`` after the end (a clip ending
    there) and before the start (one starting there), one stretch when the two meet.

    Both sides whichever edge a plan puts in the gap: what is read for a gap then depends on
    the two sentences alone, not on the plan, so it can be read before the plan is made (the
    scene prefetch reads gaps while the recogniser is still working) and gives the same cuts."""
    after_end, before_start = _gap_sides(before, after, cfg)
    pieces = [(before, after)] if after_end[1] >= before_start[0] else [after_end, before_start]
    return [(round(a, 3), round(b, 3)) for a, b in pieces if b > a]


def _gap_sides(before: float, after: float, cfg: PlanConfig) -> tuple[tuple[float, float], tuple[float, float]]:
    """The two places ``place_edge`` looks in a gap: ``snap_window`` after the earlier
    sentence's end (a clip ending there) and before the later one's start (one starting there)."""
    return (before, min(after, before + cfg.snap_window)), (max(before, after - cfg.snap_window), after)


def edge_windows(groups: Sequence[Group], sentences: SentenceList, duration: float,
                 cfg: PlanConfig, whole_gaps: bool = False) -> list[tuple[float, float]]:
    """The stretches of silence where a scene cut may become a clip edge, merged and sorted:
    ``snap_window`` before each group's start and after its end (where ``place_edge`` looks).

    ``whole_gaps``: ``gap_windows`` of each edge's gap instead (both sides, whichever edge lies
    there), what the scene prefetch reads before the plan exists. Without it, a gap longer than
    two snap windows is read on the side an edge uses only: on the 10-minute benchmark stream
    40 windows instead of 59, a third of the scene search after the last window."""
    sents = sentences.sentences
    windows = set()
    for g in groups:
        before, start, end, after = _gaps(g, sents, duration)
        if whole_gaps:
            windows.update(gap_windows(before, start, cfg))
            windows.update(gap_windows(end, after, cfg))
        else:
            # A group starts at the later side of the gap before it and ends at the earlier
            # side of the one after it.
            sides = (_gap_sides(before, start, cfg)[1], _gap_sides(end, after, cfg)[0])
            windows.update((round(a, 3), round(b, 3)) for a, b in sides if b > a)
    merged: list[tuple[float, float]] = []
    for a, b in sorted(windows):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def place_edge(speech: float, silence: float, cuts: Sequence[float], cfg: PlanConfig,
               direction: int) -> tuple[float, str]:
    """Move an edge from the speech into the silence: to a scene cut, else by a small pad."""
    lo, hi = sorted((speech, speech + direction * min(cfg.snap_window, abs(speech - silence))))
    inside = [c for c in cuts if lo <= c <= hi]
    if inside:
        return min(inside, key=lambda c: abs(c - speech)), "scene"
    pad = min(cfg.max_pad, abs(speech - silence) / 2)
    return speech + direction * pad, "pause"


def build_plan(sentences: SentenceList, segmentation: Segmentation, shots: Shots | None,
               kinds: Sequence[str], cfg: PlanConfig, duration: float,
               proposed: tuple[list[Group], list[dict]] | None = None) -> CutPlan:
    """The clips: the groups (``proposed``: ``group_sentences``' result, when the caller
    grouped already to find the edge windows for scene detection) with their edges placed."""
    sents = sentences.sentences
    segs = _labels(sentences, segmentation)
    groups, dropped = proposed or group_sentences(sentences, segmentation, kinds, cfg)
    cuts = shots.cuts if shots else ()
    clips = []
    for n, g in enumerate(groups):
        before, start, end, after = _gaps(g, sents, duration)
        clip_start, start_reason = place_edge(start, before, cuts, cfg, -1)
        clip_end, end_reason = place_edge(end, after, cuts, cfg, +1)
        members = sents[g.first:g.last + 1]
        member_segs = segs[g.first:g.last + 1]
        clips.append(ClipSpec(
            id=f"c{n + 1:03d}", kind=g.kind, tags=_clip_tags(member_segs), product=g.product,
            start=round(max(0.0, clip_start), 3), end=round(min(duration, clip_end), 3),
            sentence_ids=tuple(s.id for s in members), text=_join([s.text for s in members]),
            score=_score(member_segs, clip_end - clip_start, cfg),
            start_reason=start_reason, end_reason=end_reason,
            category=_most_common([s.category for s in member_segs if s.category]) or segmentation.category))
    return CutPlan(clips=tuple(rank_takes(clips)), dropped=tuple(dropped))


def _most_common(values: Sequence[str]) -> str:
    return max(values, key=values.count) if values else ""


def _score(segs: Sequence[Segment], duration: float, cfg: PlanConfig) -> float:
    """Confidence of the labels, discounted for clips too short to say much."""
    confidence = sum(s.score for s in segs) / len(segs)
    return round(confidence * min(1.0, duration / (2 * cfg.min_seconds)), 3)


def rank_takes(clips: Sequence[ClipSpec]) -> list[ClipSpec]:
    """When a product's subject is pitched more than once, rank the takes; mark the best."""
    groups: dict[tuple[str, int, str], list[int]] = {}
    for i, c in enumerate(clips):
        groups.setdefault((c.kind, c.product, c.tags[0] if c.tags else ""), []).append(i)
    out = list(clips)
    for members in groups.values():
        ranked = sorted(members, key=lambda i: (-clips[i].score, -clips[i].duration, clips[i].start))
        for rank, i in enumerate(ranked, 1):
            out[i] = replace(clips[i], take=rank, best_take=rank == 1)
    return out


def _clip_tags(segs: Sequence[Segment]) -> tuple[str, ...]:
    counts: dict[str, int] = {}
    for seg in segs:
        for t in seg.tags:
            counts[t] = counts.get(t, 0) + 1
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    real = [t for t in ranked if t != "other"]
    return tuple(real or ranked)


def _join(texts: Sequence[str]) -> str:
    return ("" if all(is_cjk(t) for t in texts) else " ").join(t.strip() for t in texts)


def fit_to_picture(plan: CutPlan, sentences: SentenceList, start: float, end: float, cfg: PlanConfig) -> CutPlan:
    """Clips only where there is a picture (a recording whose video track starts late or ends
    before its sound): a clip reaching outside [start, end] keeps its sentences inside it when
    they still make ``min_seconds`` (its edge then says "picture"), else it is dropped with the
    reason. Never a clip with a frozen or missing picture."""
    sents = sentences.sentences
    index = {s.id: i for i, s in enumerate(sents)}
    clips, dropped = [], list(plan.dropped)
    for clip in plan.clips:
        if clip.start >= start - 1e-3 and clip.end <= end + 1e-3:
            clips.append(clip)
            continue
        ids = [index[i] for i in clip.sentence_ids]
        inside = [i for i in ids if sents[i].start >= start and sents[i].end <= end]
        span = sents[inside[-1]].end - sents[inside[0]].start if inside else 0.0
        if not inside or (span < cfg.min_seconds and not cfg.keep_short):
            where = f"before {start:.1f}s" if clip.start < start - 1e-3 else f"after {end:.1f}s"
            dropped.append({"kind": clip.kind, "product": clip.product, "start": clip.start, "end": clip.end,
                            "reason": f"no picture {where} (the video track is shorter than the sound)",
                            "sentence_ids": list(clip.sentence_ids)})
            continue
        first, last = inside[0], inside[-1]
        new_start, start_reason = clip.start, clip.start_reason
        if first != ids[0] or clip.start < start:
            gap = sents[first].start - (sents[first - 1].end if first > 0 else 0.0)
            new_start, start_reason = max(start, sents[first].start - min(cfg.max_pad, gap / 2)), "picture"
        new_end, end_reason = clip.end, clip.end_reason
        if last != ids[-1] or clip.end > end:
            gap = (sents[last + 1].start if last + 1 < len(sents) else end) - sents[last].end
            new_end, end_reason = min(end, sents[last].end + min(cfg.max_pad, max(0.0, gap) / 2)), "picture"
        members = [sents[i] for i in range(first, last + 1)]
        clips.append(replace(clip, start=round(new_start, 3), end=round(new_end, 3),
                             sentence_ids=tuple(s.id for s in members), text=_join([s.text for s in members]),
                             start_reason=start_reason, end_reason=end_reason))
    return CutPlan(clips=tuple(clips), dropped=tuple(dropped))
