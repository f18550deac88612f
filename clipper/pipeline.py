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

from ._version import __version__
from .config import Config, load_config
from .errors import ConfigError, Interrupted, NoSpeechError, RenderError, WorkspaceError
from .export import write_timeline
from .manifest import build_manifest, write_manifest
from .media.audio import extract_audio
from .media.probe import probe, require_audio
from .plan import build_plan, edge_windows, fit_to_picture, group_sentences
from .progress import LogProgress, Progress
from .render.clip import render_clip
from .render.fonts import font_file
from .review.apply import apply_review
from .review.state import ReviewStore
from .scenes import detect_cuts
from .segment.base import segment_sentences, segmenter_version
from .sentences import split_sentences
from .transcribe.whisper import ChunkResult, assemble, load_model, transcribe_chunks
from .types import CutPlan, MediaInfo, RenderedClip, Segmentation, SentenceList, Shots, Transcript
from .workspace import FolderLock, Workspace, disk_errors, fingerprint, key_of, make_folder, set_aside

log = logging.getLogger(__name__)
_CLIP_FILE = re.compile(r"^c\d{3,}\.(mp4|srt|jpg)$")
PICTURE_SLACK = 0.5   # seconds of sound without picture at either end that need no special care


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
        chunks_path = ws.usable("transcript.chunks.jsonl")
        chunks = _read_chunks(chunks_path, key)
        audio = ws.usable("audio.wav")
        model = self.model()  # a model that cannot load fails before any audio is decoded
        if not chunks or not _wav_ok(audio):
            chunks = []
            with self.progress.task("extracting audio", info.duration) as task:
                extract_audio(info, audio, on_progress=task.update)
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
        timings: dict[str, float] = {}
        reused: list[str] = []
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = round(now - clock, 3)
            clock = now

        info, ws = self._open(source, out_dir)
        with FolderLock(ws.out_dir, "run.lock", "clipper run"), disk_errors(ws.out_dir):
            return self._run(info, ws, timings, reused, lap)

    def analyse(self, source: str | Path, out_dir: str | Path) -> CutPlan:
        """Everything up to the cut plan, saved in the work folder; ``rerender`` then makes
        the clips. ``clipper batch`` runs the two as separate tasks (a GPU worker can
        transcribe the next stream while CPU workers render this one)."""
        info, ws = self._open(source, out_dir)
        with FolderLock(ws.out_dir, "run.lock", "clipper run"), disk_errors(ws.out_dir):
            return self._analyse(info, ws, {}, [], lambda _stage: None).plan

    def _open(self, source: str | Path, out_dir: str | Path) -> tuple[MediaInfo, Workspace]:
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise WorkspaceError("output path exists and is not a folder", path=str(out))
        self.preflight()
        info = self.probe(source)
        return info, Workspace(out)

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

    def _run(self, info: MediaInfo, ws: Workspace, timings: dict[str, float], reused: list[str],
             lap: Callable[[str], None]) -> RunResult:
        a = self._analyse(info, ws, timings, reused, lap)
        return self._publish(info, a, ws, timings, reused, lap)

    def _publish(self, info: MediaInfo, a: "_Analysis", ws: Workspace, timings: dict[str, float],
                 reused: list[str], lap: Callable[[str], None], approved_only: bool = False,
                 only: set[str] | None = None) -> RunResult:
        """The plan with its review decisions applied, rendered; the manifest and timeline
        written. The one tail of a run and of a re-render."""
        out = ws.out_dir
        reviewed = apply_review(a.plan, ReviewStore(out).load(), a.transcript, a.sentences.sentences,
                                a.shots.cuts, self.config.plan, approved_only)
        rendered, reused_clips = self._render_all(info, a.transcript, a.sentences, reviewed.plan, ws, a.fp, only=only)
        if reused_clips:
            reused.append(f"{reused_clips} clips")
        lap("render")

        manifest = build_manifest(info, a.transcript.language, reviewed.plan, rendered, a.segmentation,
                                  extra={"timings": timings, "model": a.transcript.model,
                                         "rejected": list(reviewed.rejected)}, review=reviewed.review)
        manifest_path = write_manifest(manifest, out)
        write_timeline(out, best_effort=True)   # DIR/timeline.otio; a failure is a warning, the clips are safe
        return RunResult(out, manifest_path, manifest, info, a.transcript, a.sentences, a.segmentation,
                         reviewed.plan, tuple(rendered), timings, tuple(reused))

    def _analyse(self, info: MediaInfo, ws: Workspace, timings: dict[str, float], reused: list[str],
                 lap: Callable[[str], None]) -> "_Analysis":
        cfg = self.config
        out = ws.out_dir
        make_folder(out / "clips", "clips folder")   # a stray file named clips fails now, not after transcribing
        fp = fingerprint(Path(info.path))
        ws.save("media", key_of("media", fp), info)
        # The settings the clips are made with: `clipper render DIR` and the review page
        # re-render with them (plus what they are asked to change).
        ws.write_json("config.json", cfg.model_dump(mode="json"))
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
        if info.has_video and info.video_end and (info.video_start > PICTURE_SLACK
                                                  or info.video_end < info.duration - PICTURE_SLACK):
            log.warning("%s: the picture covers only %.1f-%.1fs of %.1fs: clips are cut where both picture "
                        "and sound are", info.path, info.video_start, info.video_end, info.duration)
            plan = fit_to_picture(plan, sentences, info.video_start, info.video_end, cfg.plan)
        ws.save("plan", key_of("plan", fp, cfg.section_hash("plan")), plan)
        lap("plan")
        self.checkpoint()
        if not plan.clips:
            log.warning("%s: no %s found: no clips written", info.path, " or ".join(kinds))
        return _Analysis(fp, transcript, sentences, segmentation, shots, plan)

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
            return self._rerender(out_dir, approved_only, only)

    def _rerender(self, out_dir: str | Path, approved_only: bool, only: set[str] | None) -> RunResult:
        saved = load_run(out_dir)
        clock = time.perf_counter()
        timings: dict[str, float] = {}

        def lap(stage: str) -> None:
            timings[stage] = round(time.perf_counter() - clock, 3)

        analysis = _Analysis(fingerprint(Path(saved.media.path)), saved.transcript, saved.sentences,
                             saved.segmentation, saved.shots, saved.plan)
        return self._publish(saved.media, analysis, Workspace(saved.out_dir), timings, [], lap,
                             approved_only, only)

    def _render_all(self, info: MediaInfo, transcript: Transcript, sentences: SentenceList,
                    plan: CutPlan, ws: Workspace, fp: str,
                    only: set[str] | None = None) -> tuple[list[RenderedClip], int]:
        cfg = self.config.render
        clips_dir = make_folder(ws.out_dir / "clips", "clips folder")
        index: dict[str, Any] = ws.read_json("renders.json", _render_index) or {}
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
                    ws.write_json("renders.json", index)
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


def _render_index(data: Any) -> dict[str, Any]:
    """renders.json checked: {clip id: {"key": str, "clip": a RenderedClip}}."""
    if not isinstance(data, dict):
        raise ValueError("not a table of rendered clips")
    for value in data.values():
        if not isinstance(value, dict) or not isinstance(value.get("key"), str):
            raise ValueError("an entry has no key")
        RenderedClip.from_dict(value["clip"])
    return data


def _read_chunks(path: Path, key: str) -> list[ChunkResult]:
    """The saved windows of an interrupted transcription with this key; a torn last line (a
    killed run) is dropped, anything else unreadable sets the file aside."""
    chunks: list[ChunkResult] = []
    if not path.is_file():
        return chunks
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        set_aside(path, f"unreadable saved windows ({exc})")
        return []
    for n, line in enumerate(lines):
        try:
            row = json.loads(line)
            if row.get("key") != key:
                return []
            chunks.append(ChunkResult.from_dict(row["chunk"]))
        except Exception as exc:  # noqa: BLE001 - bytes, JSON or shape
            if n == len(lines) - 1 and isinstance(exc, ValueError):
                break  # a torn last line from a killed run
            set_aside(path, f"unreadable saved windows ({type(exc).__name__}: {exc})")
            return []
    return chunks


def _settings_table(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError("not a table of settings")
    return data


def _wav_ok(path: Path) -> bool:
    """Is the work folder's audio a WAV that reads (kept from an interrupted run)?"""
    if not path.is_file():
        return False
    try:
        from .media.audio import wav_duration

        wav_duration(path)
        return True
    except Exception as exc:  # noqa: BLE001 - wave.Error, EOFError, a truncated header
        set_aside(path, f"unreadable audio ({exc})")
        return False


@dataclass(frozen=True)
class _Analysis:
    fp: str
    transcript: Transcript
    sentences: SentenceList
    segmentation: Segmentation
    shots: Shots
    plan: CutPlan


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
    if not (out / ".clipper" / "plan.json").is_file():
        raise WorkspaceError("not a clipper run (no saved plan in .clipper/): run `clipper run` first",
                             path=str(out))
    ws = Workspace(out)
    config = ws.read_json("config.json", _settings_table)   # damaged: set aside, the current settings apply
    shots = ws.read("shots", Shots) if ws.path("shots.json").is_file() else Shots((), ())
    return SavedRun(out, config, ws.read("media", MediaInfo), ws.read("transcript", Transcript),
                    ws.read("sentences", SentenceList), ws.read("segments", Segmentation), shots,
                    ws.read("plan", CutPlan))
