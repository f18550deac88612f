"""The one orchestrator: source -> MediaInfo -> Transcript -> sentences -> Segmentation
-> Shots -> CutPlan -> rendered clips + manifest.json.

Stages never call each other; this module passes values between them and stores each
stage's output in the work folder (``OUT/.clipper/``) so a rerun reuses what is unchanged.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .config import Config, load_config
from .errors import Interrupted, NoSpeechError, WorkspaceError
from .export import write_timeline
from .manifest import build_manifest, write_manifest
from .media.audio import extract_audio
from .media.probe import probe, require_audio
from .plan import build_plan, edge_windows, group_sentences
from .progress import LogProgress, Progress
from .render.clip import render_clip
from .review.apply import apply_review
from .review.state import ReviewStore
from .scenes import detect_cuts
from .segment.base import segment_sentences, segmenter_version
from .sentences import split_sentences
from .transcribe.whisper import ChunkResult, assemble, load_model, transcribe_chunks
from .types import CutPlan, MediaInfo, RenderedClip, Segmentation, SentenceList, Shots, Transcript
from .workspace import Workspace, fingerprint, key_of, write_json_atomic

log = logging.getLogger(__name__)
_CLIP_FILE = re.compile(r"^c\d{3,}\.(mp4|srt|jpg)$")


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


class Pipeline:
    """``Pipeline(config).run(source, out_dir)``; holds the loaded model between runs."""

    def __init__(self, config: Config | None = None, progress: Progress | None = None,
                 should_stop: Callable[[], bool] | None = None) -> None:
        self.config = config or load_config()
        self.progress = progress or LogProgress()
        self.should_stop = should_stop or (lambda: False)
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

    # -- stages ------------------------------------------------------------------------
    def probe(self, source: str | Path) -> MediaInfo:
        info = probe(source)
        require_audio(info)
        return info

    def transcribe(self, info: MediaInfo, ws: Workspace, fp: str | None = None) -> tuple[Transcript, bool]:
        """The transcript, from the work folder when the source and settings are unchanged.

        Windows are appended to ``transcript.chunks.jsonl`` as they finish, so a run killed an
        hour into a stream resumes where it stopped. Returns (transcript, reused).
        """
        cfg = self.config.transcribe
        key = key_of("transcript", fp or fingerprint(Path(info.path)), cfg.model_dump())
        cached = ws.load("transcript", key, Transcript)
        if cached is not None:
            return cached, True
        chunks_path = ws.path("transcript.chunks.jsonl")
        chunks = _read_chunks(chunks_path, key)
        audio = ws.path("audio.wav")
        if not audio.exists() or not chunks:
            with self.progress.task("extracting audio", info.duration) as task:
                extract_audio(info, audio, on_progress=task.update)
        model = self.model()
        resume = chunks[-1].end if chunks else 0.0
        language = next((c.language for c in chunks if c.words), None)
        # Append to the windows of an interrupted run with the same key; otherwise start afresh.
        with self.progress.task(f"transcribing ({cfg.model})", info.duration) as task, \
                chunks_path.open("a" if chunks else "w", encoding="utf-8") as sink:
            task.update(resume)
            for chunk in transcribe_chunks(model, audio, cfg, language=language,
                                           resume_from=resume, on_progress=task.update):
                sink.write(json.dumps({"key": key, "chunk": chunk.to_dict()}, ensure_ascii=False) + "\n")
                sink.flush()
                chunks.append(chunk)
                self.checkpoint()
        transcript = assemble(chunks, info.duration, cfg.model)
        ws.save("transcript", key, transcript)
        chunks_path.unlink(missing_ok=True)
        audio.unlink(missing_ok=True)  # 115 MB an hour; re-extracting is cheap next to transcribing
        return transcript, False

    # -- the whole run -----------------------------------------------------------------
    def run(self, source: str | Path, out_dir: str | Path) -> RunResult:
        cfg = self.config
        timings: dict[str, float] = {}
        reused: list[str] = []
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = round(now - clock, 3)
            clock = now

        info = self.probe(source)
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise WorkspaceError("output path exists and is not a folder", path=str(out))
        ws = Workspace(out)
        fp = fingerprint(Path(info.path))
        ws.save("media", key_of("media", fp), info)
        # The settings the clips are made with: `clipper render DIR` and the review page
        # re-render with them (plus what they are asked to change).
        write_json_atomic(ws.path("config.json"), cfg.model_dump(mode="json"))
        lap("probe")
        self.checkpoint()

        transcript, was_cached = self.transcribe(info, ws, fp)
        if was_cached:
            reused.append("transcript")
        lap("transcribe")
        self.checkpoint()
        if not transcript.words:
            raise NoSpeechError("no speech found (silence or music only): nothing to clip", path=info.path)

        sentences = split_sentences(transcript, cfg.sentences)
        ws.save("sentences", key_of("sentences", fp, cfg.section_hash("transcribe", "sentences")), sentences)
        lap("sentences")

        seg_key = key_of("segments", fp, cfg.section_hash("transcribe", "sentences", "segment"),
                         segmenter_version(cfg.segment))
        segmentation = ws.load("segments", seg_key, Segmentation)
        if segmentation is None:
            segmentation = segment_sentences(sentences, cfg.segment)
            ws.save("segments", seg_key, segmentation)
        else:
            reused.append("segments")
        lap("segment")
        self.checkpoint()

        kinds = cfg.segment.kinds
        groups, _ = group_sentences(sentences, segmentation, kinds, cfg.plan)
        windows = edge_windows(groups, sentences, info.duration, cfg.plan) if info.has_video else []
        shots_key = key_of("shots", fp, windows, cfg.scenes.model_dump())
        shots = ws.load("shots", shots_key, Shots)
        if shots is None:
            with self.progress.task("finding scene cuts", len(windows) or None) as task:
                shots = detect_cuts(info.path, windows, cfg.scenes,
                                    on_progress=lambda done, _total: task.update(done))
            ws.save("shots", shots_key, shots)
        else:
            reused.append("shots")
        lap("scenes")
        self.checkpoint()

        plan = build_plan(sentences, segmentation, shots, kinds, cfg.plan, info.duration)
        ws.save("plan", key_of("plan", fp, cfg.section_hash("plan")), plan)
        lap("plan")
        self.checkpoint()
        if not plan.clips:
            log.warning("%s: no %s found: no clips written", info.path, " or ".join(kinds))

        reviewed = apply_review(plan, ReviewStore(out).load(), transcript, sentences.sentences, shots.cuts, cfg.plan)
        rendered, reused_clips = self._render_all(info, transcript, sentences, reviewed.plan, ws, fp)
        if reused_clips:
            reused.append(f"{reused_clips} clips")
        lap("render")

        manifest = build_manifest(info, transcript.language, reviewed.plan, rendered, segmentation,
                                  extra={"timings": timings, "model": transcript.model,
                                         "rejected": list(reviewed.rejected)}, review=reviewed.review)
        manifest_path = write_manifest(manifest, out)
        write_timeline(out, best_effort=True)   # DIR/timeline.otio; a failure is a warning, the clips are safe
        return RunResult(out, manifest_path, manifest, info, transcript, sentences, segmentation, reviewed.plan,
                         tuple(rendered), timings, tuple(reused))

    def rerender(self, out_dir: str | Path, approved_only: bool = False,
                 only: set[str] | None = None) -> RunResult:
        """Render a finished run again from its saved stages, with its review decisions applied.

        Nothing is transcribed, segmented or planned again: the saved plan is reviewed and
        rendered through the same render cache as a run, so only clips whose render inputs
        changed (edited words or edges, this Pipeline's render settings) are encoded again.
        With ``approved_only``, edits wait until their clip is approved. ``only`` limits the
        clips that may be encoded (the others keep their files).
        """
        saved = load_run(out_dir)
        cfg = self.config
        ws = Workspace(saved.out_dir)
        clock = time.perf_counter()
        fp = fingerprint(Path(saved.media.path))
        reviewed = apply_review(saved.plan, ReviewStore(saved.out_dir).load(), saved.transcript,
                                saved.sentences.sentences, saved.shots.cuts, cfg.plan, approved_only)
        rendered, reused_clips = self._render_all(saved.media, saved.transcript, saved.sentences, reviewed.plan,
                                                  ws, fp, only=only)
        timings = {"render": round(time.perf_counter() - clock, 3)}
        manifest = build_manifest(saved.media, saved.transcript.language, reviewed.plan, rendered,
                                  saved.segmentation,
                                  extra={"timings": timings, "model": saved.transcript.model,
                                         "rejected": list(reviewed.rejected)}, review=reviewed.review)
        manifest_path = write_manifest(manifest, saved.out_dir)
        write_timeline(saved.out_dir, best_effort=True)
        return RunResult(saved.out_dir, manifest_path, manifest, saved.media, saved.transcript, saved.sentences,
                         saved.segmentation, reviewed.plan, tuple(rendered), timings,
                         (f"{reused_clips} clips",) if reused_clips else ())

    def _render_all(self, info: MediaInfo, transcript: Transcript, sentences: SentenceList,
                    plan: CutPlan, ws: Workspace, fp: str,
                    only: set[str] | None = None) -> tuple[list[RenderedClip], int]:
        cfg = self.config.render
        clips_dir = ws.out_dir / "clips"
        index_path = ws.path("renders.json")
        index: dict[str, Any] = json.loads(index_path.read_text()) if index_path.is_file() else {}
        wanted = {c.id for c in plan.clips}
        _remove_stale(clips_dir, wanted, index)

        todo, done = [], {}
        for clip in plan.clips:
            key = key_of("render", __version__, fp, clip.to_dict(), cfg.model_dump())
            prev = index.get(clip.id)
            fresh = prev and prev.get("key") == key
            if prev and (fresh or (only is not None and clip.id not in only)) \
                    and (clips_dir / f"{clip.id}.mp4").is_file():
                done[clip.id] = RenderedClip.from_dict(prev["clip"])
            else:
                todo.append((clip, key))
        reused = len(done)
        total = sum(c.duration for c, _ in todo)
        finished = 0.0
        with self.progress.task(f"rendering {len(todo)} clips", total or None) as task:
            def one(item):
                self.checkpoint()  # a stop request lets the clip in hand finish, starts no other
                clip, key = item
                return clip, key, render_clip(info, clip, transcript, sentences.sentences, cfg, clips_dir)

            with ThreadPoolExecutor(max_workers=cfg.jobs) as pool:
                for clip, key, result in pool.map(one, todo):
                    done[clip.id] = result
                    index[clip.id] = {"key": key, "clip": result.to_dict()}
                    write_json_atomic(index_path, index)
                    finished += clip.duration
                    task.update(finished)
        return [done[c.id] for c in plan.clips], reused


def _remove_stale(clips_dir: Path, wanted: set[str], index: dict[str, Any]) -> None:
    """Clips of an earlier plan that this plan no longer has (only files clipper names)."""
    if not clips_dir.is_dir():
        return
    for f in clips_dir.iterdir():
        if _CLIP_FILE.match(f.name) and f.name.split(".")[0] not in wanted:
            f.unlink()
            index.pop(f.name.split(".")[0], None)
        elif f.name.startswith(".c") and f.is_dir():
            shutil.rmtree(f, ignore_errors=True)  # temp folder of a killed render


def _read_chunks(path: Path, key: str) -> list[ChunkResult]:
    chunks: list[ChunkResult] = []
    if not path.is_file():
        return chunks
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            break  # a torn last line from a killed run
        if row.get("key") != key:
            return []
        chunks.append(ChunkResult.from_dict(row["chunk"]))
    return chunks


@dataclass(frozen=True)
class SavedRun:
    """A finished run's stages, read back from its work folder."""

    out_dir: Path
    config: dict[str, Any] | None
    media: MediaInfo
    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation
    shots: Shots
    plan: CutPlan


def load_run(out_dir: str | Path) -> SavedRun:
    """The saved stages of the run in ``out_dir``; a clear error when it has none."""
    out = Path(out_dir)
    if not (out / ".clipper").is_dir() or not (out / "manifest.json").is_file():
        raise WorkspaceError("not a finished clipper run (no manifest.json and .clipper/): run `clipper run` first",
                             path=str(out))
    ws = Workspace(out)
    config_path = ws.path("config.json")
    config = None
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("%s: unreadable, using the current settings", config_path)
    shots = ws.read("shots", Shots) if ws.path("shots.json").is_file() else Shots((), ())
    return SavedRun(out, config, ws.read("media", MediaInfo), ws.read("transcript", Transcript),
                    ws.read("sentences", SentenceList), ws.read("segments", Segmentation), shots,
                    ws.read("plan", CutPlan))
