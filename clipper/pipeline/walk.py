"""The incremental walk: every run, batch or live, hears its source window by window and
publishes each clip as soon as its selling point is settled.

After each transcribed window (appended to the journal) a *pass* brings sentences,
segmentation and the plan up to the horizon heard so far, and hands the clips that are
settled to rendering, while transcription goes on. A clip is settled once speech went on
for ``watch.live_settle`` seconds past it and the segmenter has seen the sentences after it
that its labels depend on (``lookahead``), and the host has finished the thought after it
(the planner compares a clip's subject with the whole next thought). Published clips never change (a take's rank
aside): a later pass plans only what comes after the last one. When the source is heard to
its end a final pass takes the rest.

A pass is a pure function of the windows heard and the clips published before it, and its
decision is journaled, so a run killed at any point resumes from the journal and publishes
exactly what an uninterrupted run does; a rerun with other plan settings walks the same
windows again without transcribing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from ..config import Config, PlanConfig, SegmentConfig
from ..media.probe import probe
from ..plan import ends_thought, rank_takes
from ..scenes import import_detector_early
from ..transcribe.whisper import ChunkResult, assemble
from ..types import (
    ClipSpec,
    CutPlan,
    MediaInfo,
    Segmentation,
    Sentence,
    SentenceList,
    Transcript,
)
from ..workspace import key_of
from .journal import Journal, PassRecord
from .prefetch import ScenePrefetch
from .publish import RenderQueue
from .stages import ShotFinder, plan_of, propose, segments_of, sentences_of
from .windows import release_freed_memory

log = logging.getLogger(__name__)


def lookahead(cfg: SegmentConfig) -> int:
    """Sentences after a clip's last one that its labels depend on, per backend.

    rules: one (a "next product" phrase starts the product of the sentence that follows it);
    embed: two (each sentence is read with its neighbours' embeddings, and a product switch
    compares the sentences on both sides); a language model labels a sentence from the
    window in which it sits furthest from an edge: half a window, plus the embed model's
    two when the two are combined.
    """
    if cfg.backend in ("transformers", "openai"):
        return cfg.llm.window // 2 + (2 if cfg.llm.combine else 0)
    return 2 if cfg.backend == "embed" else 1


def settled(clip: ClipSpec, transcribed_until: float, last_speech: float, settle: float) -> bool:
    """Is a clip's selling point complete: speech went on for ``settle`` seconds past its end
    (the recogniser has heard that far, and some sentence ends after the clip)?"""
    return transcribed_until - clip.end >= settle and last_speech > clip.end


def clips_to_publish(planned: Sequence[ClipSpec], published: Sequence[ClipSpec], transcribed_until: float,
                     last_speech: float, settle: float, final: bool,
                     sentence_ids: Sequence[str] = (), lookahead: int = 0,
                     closed: int | None = None) -> list[ClipSpec]:
    """The planned clips to publish now, in order, with the ids they are published under.

    Published clips never change: a planned clip that starts before the end of the last one
    published (the same selling point planned again, or one overlapping it) is passed over,
    and numbering goes on after them. A clip goes out once settled and followed by
    ``lookahead`` sentences and, with ``closed`` (how many leading sentences belong to
    thoughts the host has finished, ``thoughts_closed``), once the thought after it has ended
    too: the planner compares a clip's subject with the whole next thought, so a later piece
    of that thought could still move the clip's end (or when the source is heard to its end,
    ``final``); the first that is not stops the list, as later ones are not either.
    """
    position = {sid: i for i, sid in enumerate(sentence_ids)}
    cursor = published[-1].end if published else 0.0
    out: list[ClipSpec] = []
    for clip in planned:
        if clip.start < cursor - 1e-3:
            continue  # published already, or overlaps what was
        last = position.get(clip.sentence_ids[-1], -1) if clip.sentence_ids else -1
        read = lookahead == 0 or (last >= 0 and len(sentence_ids) - 1 - last >= lookahead)
        if closed is not None:
            read = read and last >= 0 and closed > last + 1
        if not (final or (settled(clip, transcribed_until, last_speech, settle) and read)):
            break
        out.append(replace(clip, id=f"c{len(published) + len(out) + 1:03d}"))
        cursor = clip.end
    return out


def thoughts_closed(sents: Sequence[Sentence], cfg: PlanConfig) -> int:
    """How many leading sentences belong to thoughts the host has finished: those before the
    last boundary that ends a thought (the ones after it may be a thought still going on)."""
    return max((i for i in range(1, len(sents)) if ends_thought(sents, i, cfg)), default=0)


def plan_key(stage_keys: dict[str, str]) -> str:
    """What a pass's decision depends on beyond the windows: everything the plan's key reads."""
    return key_of("passes", stage_keys["plan"])


@dataclass
class Heard:
    """The latest pass's view of the source (for the manifest in progress and the final save)."""

    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation | None


class Walk:
    """One run's walk over its journal. ``live``: the source is still being written (its
    length and picture bounds are read again on every pass)."""

    def __init__(self, config: Config, info: MediaInfo, journal: Journal, stage_keys: dict[str, str],
                 model_name: str, queue: RenderQueue | None, live: bool = False,
                 checkpoint: Callable[[], None] = lambda: None, audio: Path | None = None) -> None:
        self.config, self.info, self.journal, self.queue = config, info, journal, queue
        self.model_name, self.live, self.checkpoint = model_name, live, checkpoint
        self.audio = audio      # the run's extracted WAV (edges are checked on it while it exists)
        self.plan_key = plan_key(stage_keys)
        self.shots = ShotFinder(info.path, config)
        self._importing: threading.Thread | None = None   # see ``about_to_hear``
        # Decided once: ``hearing`` is called after every decoded segment.
        self.prefetching = not live and ScenePrefetch.wanted(info, config)
        self.prefetch: ScenePrefetch | None = None   # started by the first window heard in part
        self.published: list[ClipSpec] = []
        self.passes_done = 0          # windows covered by the passes made or replayed
        self.final_done = False
        self.heard: Heard | None = None

    # -- passes -----------------------------------------------------------------------------
    def catch_up(self) -> None:
        """A pass for every journaled window not yet passed over (replayed when decided)."""
        while self.passes_done < len(self.journal.windows):
            self._pass(self.passes_done + 1, final=False)
            self.checkpoint()

    def about_to_hear(self) -> None:
        """The source is about to be transcribed: PySceneDetect is imported meanwhile, on the
        core the audio extraction and the model load leave (a rerun that hears nothing, its
        journal complete, does not import it unless a pass reads scene windows)."""
        if self._importing is None and self.config.scenes.enabled and self.info.has_video:
            self._importing = import_detector_early()

    def hearing(self, partial: ChunkResult) -> None:
        """The window being transcribed, as far as it is decoded: the scene prefetch reads
        the silences of its sentences meanwhile (a complete file's walk only)."""
        if not self.prefetching:
            return
        if self.prefetch is None:
            self.prefetch = ScenePrefetch(self.shots, self.info, self.config, self.model_name)
        self.prefetch.hearing(partial)

    def heard_all(self) -> None:
        """Nothing more is transcribed: the prefetch looks no further."""
        if self.prefetch is not None:
            self.prefetch.stop()

    def close(self) -> None:
        if self.prefetch is not None:
            self.prefetch.close()
        if self._importing is not None:
            self._importing.join()

    def add_window(self, chunk: ChunkResult) -> None:
        if self.prefetch is not None:
            self.prefetch.heard(chunk)
        self.journal.add_window(chunk)
        self.catch_up()
        release_freed_memory()   # bounded memory: one window's worth, however long the stream

    def finish(self) -> None:
        """The final pass: the source was heard to its end."""
        self.catch_up()
        if not self.final_done:
            self._pass(len(self.journal.windows), final=True)
            self.final_done = True

    def _pass(self, n: int, final: bool) -> None:
        record = self.journal.decided(self.plan_key, n, final)
        if record is None:
            ready = self._decide(n, final)
            self.journal.add_pass(PassRecord(self.plan_key, n, final, tuple(ready)))
        else:
            ready = list(record.clips)
        self.passes_done = n
        log.info("pass over %d window(s) to %.1fs%s: %d clip(s) settled", n,
                 self.journal.windows[n - 1].end if n else 0.0, " (final)" if final else "", len(ready))
        if ready:
            self.published.extend(ready)
            if self.queue is not None:
                heard = self._heard(n, final)
                for clip in ready:
                    self.queue.submit(self.info, clip, heard.transcript, heard.sentences.sentences)

    def _heard(self, n: int, final: bool) -> Heard:
        duration = self.info.duration if final else self.journal.windows[n - 1].end if n else 0.0
        if self.heard is None or self.heard.transcript.duration != duration \
                or len(self.heard.transcript.words) != sum(len(c.words) for c in self.journal.windows[:n]):
            transcript = assemble(self.journal.windows[:n], duration, self.model_name)
            self.heard = Heard(transcript, sentences_of(transcript, self.config), None)
        return self.heard

    def _decide(self, n: int, final: bool) -> list[ClipSpec]:
        if self.live:
            self.info = probe(self.info.path)   # the recording has grown
        heard = self._heard(n, final)
        if not heard.transcript.words or not heard.sentences.sentences:
            return []
        cfg = self.config
        segmentation = heard.segmentation or segments_of(heard.sentences, cfg)
        self.heard = replace(heard, segmentation=segmentation)
        horizon = heard.transcript.duration
        cursor = self.published[-1].end if self.published else 0.0
        proposal = propose(heard.sentences, segmentation, cfg, horizon, self.info.has_video, after=cursor,
                           whole_gaps=self.prefetching)
        shots = self.shots(proposal.windows)
        # A growing recording's picture bounds are not known until it is complete.
        plan = plan_of(self.info, heard.sentences, segmentation, shots, cfg, horizon,
                       picture_known=final or not self.live, audio=self.audio, proposal=proposal,
                       after=cursor)
        sents = heard.sentences.sentences
        heard_until = self.journal.windows[n - 1].end if n else 0.0
        return clips_to_publish(plan.clips, self.published, heard_until, sents[-1].end,
                                cfg.watch.live_settle, final, [s.id for s in sents], lookahead(cfg.segment),
                                thoughts_closed(sents, cfg.plan))

    # -- the result -------------------------------------------------------------------------
    def plan(self, final_plan: CutPlan) -> CutPlan:
        """The run's plan: the published clips (takes ranked among them) and what the final
        plan of the whole source dropped."""
        return CutPlan(clips=tuple(rank_takes(self.published)), dropped=final_plan.dropped)
