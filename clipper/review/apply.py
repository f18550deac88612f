"""Review decisions applied to a cut plan (pure): the plan a render should make after review.

A rejected clip leaves the plan (the manifest lists it under ``rejected``). An edited clip
gets its new word range, title and corrected words; its edges are placed from the new first
and last words exactly as the planner places them (into the silence, or onto a scene cut
found there), so a nudge by a word never cuts into speech. With ``approved_only`` the edits of
clips not approved since are left for later: the clip keeps its planned render.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from ..config import PlanConfig
from ..plan import place_edge
from ..text import join_words
from ..types import ClipSpec, CutPlan, Sentence, Transcript
from .state import ClipBounds, Decision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reviewed:
    plan: CutPlan                          # what to render: rejected clips removed, edits applied
    review: dict[str, dict[str, Any]]      # per clip id kept: its state and what was edited
    rejected: tuple[dict[str, Any], ...]   # the rejected clips, for the manifest


def pending() -> dict[str, Any]:
    """The review state of a clip nobody has looked at yet."""
    return {"state": "pending", "edited": [], "rev": 0}


def clip_bounds(clip: ClipSpec, sentences: Sequence[Sentence]) -> ClipBounds:
    """The planned clip's word range (from its sentences), ignoring any earlier review."""
    by_id = {s.id: s for s in sentences}
    return ClipBounds(clip.id, clip.sentence_ids, by_id[clip.sentence_ids[0]].first_word,
                      by_id[clip.sentence_ids[-1]].last_word)


def apply_review(plan: CutPlan, decisions: Mapping[str, Decision], transcript: Transcript,
                 sentences: Sequence[Sentence], cuts: Sequence[float], cfg: PlanConfig,
                 approved_only: bool = False) -> Reviewed:
    kept: list[ClipSpec] = []
    review: dict[str, dict[str, Any]] = {}
    rejected: list[dict[str, Any]] = []
    for clip in plan.clips:
        d = decisions.get(clip.id)
        if d is not None and d.sentence_ids != clip.sentence_ids:
            # The plan changed under the decision (another config, new speech): it was made on
            # other words, so it does not carry over.
            log.warning("review of %s was made on other sentences than the current plan's: ignored", clip.id)
            d = None
        if d is None:
            kept.append(clip)
            review[clip.id] = pending()
            continue
        if d.state == "rejected":
            rejected.append({"id": clip.id, "kind": clip.kind, "tags": list(clip.tags), "start": clip.start,
                             "end": clip.end, "text": clip.text, "product": clip.product, "rev": d.rev})
            continue
        applied = d.edits and (not approved_only or d.state == "approved")
        kept.append(edited_clip(clip, d, transcript, sentences, cuts, cfg) if applied else clip)
        review[clip.id] = {"state": d.state, "edited": d.edits if applied else [],
                           "waiting": [] if applied else d.edits, "rev": d.rev}
    return Reviewed(replace(plan, clips=tuple(kept)), review, tuple(rejected))


def edited_clip(clip: ClipSpec, d: Decision, transcript: Transcript, sentences: Sequence[Sentence],
                cuts: Sequence[float], cfg: PlanConfig) -> ClipSpec:
    words = transcript.words
    planned = clip_bounds(clip, sentences)
    first = d.first_word if d.first_word >= 0 else planned.first_word
    last = d.last_word if d.last_word >= 0 else planned.last_word
    start, start_reason = clip.start, clip.start_reason
    end, end_reason = clip.end, clip.end_reason
    if d.first_word >= 0:
        before = words[first - 1].end if first > 0 else 0.0
        start, reason = place_edge(words[first].start, before, cuts, cfg, -1)
        start_reason = f"review ({reason})"
    if d.last_word >= 0:
        after = words[last + 1].start if last + 1 < len(words) else transcript.duration
        end, reason = place_edge(words[last].end, after, cuts, cfg, +1)
        end_reason = f"review ({reason})"
    fixed = dict(d.corrections)
    text = clip.text
    if d.edits != ["title"]:
        text = join_words([fixed.get(i, w.text) for i, w in enumerate(words[first:last + 1], first)])
    corrections = tuple((i, t) for i, t in d.corrections if first <= i <= last)
    moved = d.first_word >= 0 or d.last_word >= 0     # else the clip's words are its sentences'
    return replace(clip, start=round(max(0.0, start), 3), end=round(min(transcript.duration, end), 3),
                   start_reason=start_reason, end_reason=end_reason, text=text,
                   first_word=first if moved else -1, last_word=last if moved else -1,
                   title=d.title or "", corrections=corrections)
