"""Review: a person checks each clip — approve, reject, nudge an edge by words, fix a word.

``state`` keeps the decisions (``DIR/review.json``), ``apply`` turns them into the plan a
render makes, ``view`` and ``server`` are the review page (``clipper review DIR``). Decisions
apply wherever a run renders: ``clipper run``, ``clipper render DIR`` and the page's button.
The server and view modules import the pipeline, so they are not imported here.
"""

from .apply import Reviewed, apply_review, clip_bounds
from .state import STATES, ClipBounds, Decision, ReviewStore

__all__ = ["Reviewed", "apply_review", "clip_bounds", "STATES", "ClipBounds", "Decision", "ReviewStore"]
