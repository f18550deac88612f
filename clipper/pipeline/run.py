"""The one orchestrator of ``clipper run``, ``clipper watch`` (live or not) and the Python API.

source -> MediaInfo -> journal of transcript windows -> (per window: sentences,
segmentation, shots, plan up to the horizon, settled clips rendered at once) -> the final
stages saved -> review decisions applied -> manifest.json. Batch is the live walk run to the
end of a complete file; live clipping is the same walk over a recording still being written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import Config, load_config
from ..errors import (
    ConfigError,
    Interrupted,
    NoSpeechError,
    RenderError,
    WorkspaceError,
)
from ..manifest import build_manifest, write_manifest
from ..media.probe import probe, require_audio
from ..plan import rank_takes
from ..progress import LogProgress, Progress
from ..render.fonts import font_file
from ..review.apply import apply_review, pending
from ..review.state import ReviewStore
from ..stopping import requested as stop_requested
from ..transcribe.whisper import ChunkResult, assemble, load_model
from ..types import (
    CutPlan,
    MediaInfo,
    RenderedClip,
    Segmentation,
    SentenceList,
    Shots,
    Transcript,
)
from ..workspace import (
    FolderLock,
    Workspace,
    disk_errors,
    fingerprint,
    key_of,
    make_folder,
)
from .journal import Journal
from .publish import RenderIndex, RenderQueue
from .saved import load_run, source_key
from .stages import Stages, partial_picture, plan_of, propose, segments_of, sentences_of
from .walk import Walk
from .windows import GrowingRecording, hear_file, remove_audio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    manifest_path: Path
    manifest: dict[str, Any]
    media: MediaInfo
    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation
    plan: CutPlan
    clips: tuple[RenderedClip, ...]
    timings: dict[str, float] = field(default_factory=dict)
    reused: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Analysis:
    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation
    shots: Shots
    plan: CutPlan
    encoded: frozenset[str] = frozenset()    # clips the walk encoded (not reused from an earlier run)


class Pipeline:
    """``Pipeline(config).run(source, out_dir)``; holds the loaded model between runs."""

    def __init__(self, config: Config | None = None, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config or load_config()
        self.progress = progress or LogProgress()
        # The command line's signal handler also asks through clipper.stopping.
        self.should_stop = should_stop or stop_requested
        self.sleep = sleep      # between looks at a growing recording (tests pass a faster one)
        self._model = None

    def checkpoint(self) -> None:
        """Between two steps: stop here if asked to (the work so far is saved)."""
        if self.should_stop():
            raise Interrupted("stopped on request; the next run resumes from the saved stages")

    def model(self):
        """The Whisper model, loaded once per Pipeline."""
        if self._model is None:
            self._model = load_model(self.config.transcribe)
        return self._model

    def probe(self, source: str | Path) -> MediaInfo:
        info = probe(source)
        require_audio(info)
        return info

    def preflight(self) -> None:
        """Settings that name things outside clipper (font, logo, music), checked before any work."""
        r = self.config.render
        for what, path in (("logo", r.logo), ("music", r.music)):
            if path and not Path(path).expanduser().is_file():
                raise ConfigError(f"render.{what}: no such file", path=path)
        try:
            font_file(r.font)
        except RenderError as exc:
            raise ConfigError(f"render.font: {exc.message}") from None

    # -- fronts ------------------------------------------------------------------------------
    def run(self, source: str | Path, out_dir: str | Path) -> RunResult:
        """Clip a complete file; clips are published while it is still being transcribed."""
        info, ws = self._open(source, out_dir)
        with FolderLock(ws.out_dir, "run.lock", "clipper run"), disk_errors(ws.out_dir):
            return self._run(info, ws, render=True)

    def analyse(self, source: str | Path, out_dir: str | Path) -> CutPlan:
        """Everything up to the cut plan, saved in the work folder; ``rerender`` then makes
        the clips. ``clipper batch`` runs the two as separate tasks (a GPU worker can
        transcribe the next stream while CPU workers render this one)."""
        info, ws = self._open(source, out_dir)
        with FolderLock(ws.out_dir, "run.lock", "clipper run"), disk_errors(ws.out_dir):
            return self._run(info, ws, render=False).plan

    def live(self, source: str | Path, out_dir: str | Path, is_complete: Callable[[], bool]) -> RunResult:
        """Clip a recording while it is written: look again every ``watch.live_interval``
        seconds until ``is_complete()``; a killed session resumes from the journal."""
        source, ws = Path(source), Workspace(Path(out_dir))
        self.preflight()
        with FolderLock(ws.out_dir, "run.lock", "clipper run"), disk_errors(ws.out_dir):
            return self._live(source, ws, is_complete)

    def transcribe(self, info: MediaInfo, ws: Workspace, fp: str | None = None) -> tuple[Transcript, bool]:
        """The transcript alone (``clipper transcribe``), resumable like a run. Returns
        (transcript, reused)."""
        stages = Stages(ws, self.config, fp or fingerprint(Path(info.path)), self.checkpoint)
        cached = stages.load("transcript")
        if cached is not None:
            return cached, True
        journal = Journal.open(ws, stages.keys["transcript"])
        hear_file(self.model, info, ws, journal, self.config.transcribe, self.progress, journal.add_window,
                  self.checkpoint)
        remove_audio(ws)
        transcript = assemble(journal.windows, info.duration, self.config.transcribe.model)
        stages.save("transcript", transcript)
        return transcript, False

    def rerender(self, out_dir: str | Path, approved_only: bool = False,
                 only: set[str] | None = None) -> RunResult:
        """Render a finished run again from its saved stages, with its review decisions applied.

        Nothing is transcribed, segmented or planned again: the saved plan is reviewed and
        rendered through the same render cache as a run, so only clips whose render inputs
        changed (edited words or edges, this Pipeline's render settings) are encoded again.
        With ``approved_only``, edits wait until their clip is approved. ``only`` limits the
        clips that may be encoded (the others keep their files).
        """
        if not (Path(out_dir) / ".clipper").is_dir():
            load_run(out_dir)   # not a run: its clear error, before the lock would make a work folder
        with FolderLock(Path(out_dir), "run.lock", "clipper run"), disk_errors(Path(out_dir)):
            saved = load_run(out_dir)
            started = time.perf_counter()
            analysis = _Analysis(saved.transcript, saved.sentences, saved.segmentation, saved.shots, saved.plan)
            return self._publish(saved.media, analysis, Workspace(saved.out_dir), source_key(saved),
                                 {}, [], started, approved_only=approved_only, only=only)

    # -- the walk ----------------------------------------------------------------------------
    def _open(self, source: str | Path, out_dir: str | Path) -> tuple[MediaInfo, Workspace]:
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise WorkspaceError("output path exists and is not a folder", path=str(out))
        self.preflight()
        info = self.probe(source)
        return info, Workspace(out)

    def _run(self, info: MediaInfo, ws: Workspace, render: bool) -> RunResult:
        started = time.perf_counter()
        make_folder(ws.out_dir / "clips", "clips folder")   # a stray file named clips fails now, not after transcribing
        stages = Stages(ws, self.config, fingerprint(Path(info.path)), self.checkpoint)
        stages.save("media", info)
        # The settings the clips are made with: `clipper render DIR` and the review page
        # re-render with them (plus what they are asked to change).
        ws.write_json("config.json", self.config.model_dump(mode="json"))
        if partial_picture(info):
            log.warning("%s: the picture covers only %.1f-%.1fs of %.1fs: clips are cut where both picture "
                        "and sound are", info.path, info.video_start, info.video_end, info.duration)
        analysis = self._saved_analysis(stages)
        if analysis is None:
            journal = Journal.open(ws, stages.keys["transcript"])
            if not journal.windows and journal.end is None:
                # A transcript saved without a journal (an older run, or one dropped in by
                # hand) is heard as one window instead of being transcribed again.
                saved = stages.load("transcript")
                if saved is not None:
                    journal.add_window(ChunkResult.of_transcript(saved))
                    journal.mark_end(info.duration)
            if journal.end is not None:
                stages.reused.append("transcript")

            def hear(walk: Walk) -> None:
                if journal.end is not None:
                    return    # heard to the end already: no model to load
                walk.about_to_hear()
                hear_file(self.model, info, ws, journal, self.config.transcribe, self.progress, walk.add_window,
                          self.checkpoint, on_partial=walk.hearing if walk.prefetching else None)

            analysis = self._walk(info, ws, stages, journal, hear, render, started)
        key = source_key(ws, stages.keys["transcript"])
        if not render:
            return RunResult(ws.out_dir, ws.out_dir / "manifest.json", {}, info, analysis.transcript,
                             analysis.sentences, analysis.segmentation, analysis.plan, (), stages.timings,
                             tuple(stages.reused))
        return self._publish(info, analysis, ws, key, stages.timings, stages.reused, started)

    def _live(self, source: Path, ws: Workspace, is_complete: Callable[[], bool]) -> RunResult:
        started = time.perf_counter()
        cfg = self.config
        journal = Journal.open(ws, key_of("live", str(source.resolve()), cfg.transcribe.model_dump()))
        reader = GrowingRecording(source, ws, cfg.transcribe, self.model)

        def hear(walk: Walk) -> None:
            while True:
                complete = is_complete()  # read before reading: the reads then see everything
                while True:
                    chunk, more = reader.read(journal, final=complete)
                    if chunk is not None:
                        walk.add_window(chunk)
                    if not more:
                        break
                    self.checkpoint()   # a backlog is read one bounded window at a time
                if complete:
                    walk.info = self.probe(source)
                    journal.mark_end(walk.info.duration)
                    return
                self.checkpoint()
                self.sleep(cfg.watch.live_interval)

        info = self._wait_for_media(source, is_complete)
        stages = Stages(ws, cfg, "", self.checkpoint)   # keyed once the recording is complete
        analysis = self._walk(info, ws, stages, journal, hear, True, started, live=True)
        info = self.probe(source)
        timings = stages.timings
        stages = Stages(ws, cfg, fingerprint(source), self.checkpoint)
        stages.timings.update(timings)
        stages.save("media", info)
        ws.write_json("config.json", cfg.model_dump(mode="json"))
        for name, value in (("transcript", analysis.transcript), ("sentences", analysis.sentences),
                            ("segments", analysis.segmentation), ("shots", analysis.shots), ("plan", analysis.plan)):
            stages.save(name, value)
        return self._publish(info, analysis, ws, journal.key, stages.timings, stages.reused, started,
                             live={"complete": True, "transcribed_until": journal.transcribed_until})

    def _wait_for_media(self, source: Path, is_complete: Callable[[], bool]) -> MediaInfo:
        """The growing recording's first readable probe (a file mid-write can fail to parse)."""
        while True:
            complete = is_complete()
            try:
                return self.probe(source)
            except Exception as exc:  # noqa: BLE001
                if complete:
                    raise
                log.info("%s: not readable yet (%s)", source.name, exc)
            self.checkpoint()
            self.sleep(self.config.watch.live_interval)

    def _saved_analysis(self, stages: Stages) -> _Analysis | None:
        """A finished run's stages when every key still matches (nothing to walk again)."""
        values = []
        for name in ("plan", "transcript", "sentences", "segments", "shots"):   # the cheapest first
            values.append(stages.load(name))
            if values[-1] is None:
                return None
        plan, transcript, sentences, segmentation, shots = values
        stages.reused.extend(["transcript", "sentences", "segments", "shots", "plan"])
        return _Analysis(transcript, sentences, segmentation, shots, plan)

    def _walk(self, info: MediaInfo, ws: Workspace, stages: Stages, journal: Journal,
              hear: Callable[[Walk], None], render: bool, started: float, live: bool = False) -> _Analysis:
        cfg = self.config
        queue = None
        if render:
            index = RenderIndex(ws, journal.key, cfg.render)
            queue = RenderQueue(index, cfg.render.jobs, self.checkpoint)
        walk = Walk(cfg, info, journal, stages.keys, cfg.transcribe.model, queue, live, self.checkpoint,
                    audio=None if live else ws.path("audio.wav"))
        if queue is not None:
            queue.on_done = lambda rendered: self._progress_manifest(ws, walk, journal, rendered, stages, started)
        try:
            walk.catch_up()
            try:
                hear(walk)
            finally:
                walk.heard_all()
            stages.timings["transcribed"] = round(time.perf_counter() - started, 3)
            walk.finish()
            if not live:
                remove_audio(ws)   # the last passes checked their edges on it
            # The expensive part is kept before any render error can surface.
            transcript = assemble(journal.windows, walk.info.duration, cfg.transcribe.model)
            if not live and transcript.words:
                stages.save("transcript", transcript)
            if queue is not None:
                queue.join()
        except BaseException:
            if queue is not None:
                queue.abandon()
            raise
        finally:
            walk.close()   # the prefetch thread, stopped since the last window: it has a core now
        stages.add_time("walk", time.perf_counter() - started)   # transcription, passes, renders overlapping
        info = walk.info
        if not transcript.words:
            raise NoSpeechError("no speech found (silence or music only): nothing to clip", path=info.path)
        # The stages of the whole source: the final pass's when it was made in this run.
        heard = walk.heard if walk.heard and walk.heard.transcript.duration == info.duration else None
        sentences = stages.cached("sentences", lambda: heard.sentences if heard else sentences_of(transcript, cfg))
        segmentation = stages.cached("segments", lambda: heard.segmentation if heard and heard.segmentation
                                     else segments_of(sentences, cfg))
        proposal = propose(sentences, segmentation, cfg, info.duration, info.has_video, whole_gaps=walk.prefetching)
        shots = stages.cached("shots", lambda: walk.shots(proposal.windows))
        # The published clips, and what a plan of the whole source drops (its edges are not needed).
        plan = walk.plan(plan_of(info, sentences, segmentation, shots, cfg, info.duration, proposal=proposal,
                                 check_edges=False))
        stages.save("plan", plan)
        if not plan.clips:
            log.warning("%s: no %s found: no clips written", info.path, " or ".join(cfg.segment.kinds))
        return _Analysis(transcript, sentences, segmentation, shots, plan,
                         frozenset(queue.encoded) if queue is not None else frozenset())

    def _progress_manifest(self, ws: Workspace, walk: Walk, journal: Journal, rendered: list[RenderedClip],
                           stages: Stages, started: float) -> None:
        """The manifest while the run goes on: every clip published so far."""
        if "first_clip" not in stages.timings:
            stages.timings["first_clip"] = round(time.perf_counter() - started, 3)
            log.info("first clip published after %.1fs", stages.timings["first_clip"])
        done = {r.id for r in rendered}
        plan = CutPlan(clips=tuple(rank_takes([c for c in walk.published if c.id in done])))
        seg = (walk.heard.segmentation if walk.heard and walk.heard.segmentation
               else Segmentation(self.config.segment.backend, self.config.segment.category, ()))
        manifest = build_manifest(walk.info, journal.language or "", plan, rendered, seg,
                                  extra={"live": {"complete": False, "transcribed_until": journal.transcribed_until}},
                                  review={c.id: pending() for c in plan.clips})
        write_manifest(manifest, ws.out_dir)

    # -- the one tail ------------------------------------------------------------------------
    def _publish(self, info: MediaInfo, a: _Analysis, ws: Workspace, key: str, timings: dict[str, float],
                 reused: list[str], started: float, approved_only: bool = False, only: set[str] | None = None,
                 live: dict[str, Any] | None = None) -> RunResult:
        """The plan with its review decisions applied, rendered (clips already published are
        reused); the manifest and timeline written. The tail of a run, a live run and a re-render."""
        out = ws.out_dir
        reviewed = apply_review(a.plan, ReviewStore(out).load(), a.transcript, a.sentences.sentences,
                                a.shots.cuts, self.config.plan, approved_only)
        index = RenderIndex(ws, key, self.config.render)
        index.remove_stale({c.id for c in reviewed.plan.clips})
        todo = [c for c in reviewed.plan.clips if index.done(c, only) is None]
        reused_clips = len(reviewed.plan.clips) - len(todo) - len(a.encoded & {c.id for c in reviewed.plan.clips})
        with self.progress.task(f"rendering {len(todo)} clips", sum(c.duration for c in todo) or None) as task:
            queue = RenderQueue(index, self.config.render.jobs, self.checkpoint,
                                on_done=lambda rendered: task.update(sum(r.duration for r in rendered)))
            for clip in todo:
                queue.submit(info, clip, a.transcript, a.sentences.sentences)
            fresh = queue.join()
        rendered = [fresh.get(c.id) or index.done(c, only) for c in reviewed.plan.clips]
        if reused_clips:
            reused = [*reused, f"{reused_clips} clips"]
        timings = {**timings, "total": round(time.perf_counter() - started, 3)}
        manifest = build_manifest(info, a.transcript.language, reviewed.plan, rendered, a.segmentation,
                                  extra={"timings": timings, "model": a.transcript.model,
                                         "rejected": list(reviewed.rejected), **({"live": live} if live else {})},
                                  review=reviewed.review)
        manifest_path = write_manifest(manifest, out)
        from ..export import write_timeline   # here: OpenTimelineIO's import is 0.1-0.2 s an analysis never needs

        write_timeline(out, best_effort=True)   # DIR/timeline.otio; a failure is a warning, the clips are safe
        return RunResult(out, manifest_path, manifest, info, a.transcript, a.sentences, a.segmentation,
                         reviewed.plan, tuple(rendered), timings, tuple(reused))

