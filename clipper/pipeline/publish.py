"""Rendering planned clips and publishing them: the render index, the queue, the manifest.

``renders.json`` maps each clip id to the key it was rendered under (clipper's version, the
run's source key, the clip as planned, the render settings) and what came out, so a rerun,
a review or the end of an incremental run re-encodes only clips whose inputs changed. A
take's rank (``take``/``best_take``) is not part of the key: it is re-ranked as later takes
of the same subject arrive, and the picture does not depend on it.

``RenderQueue`` renders clips on ``render.jobs`` threads while the caller goes on (the
incremental walk keeps transcribing), and rewrites the manifest atomically each time a clip
is done, so a reader sees every published clip and never a half-written file.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Sequence

from .._version import __version__
from ..config import RenderConfig
from ..render.clip import render_clip
from ..types import ClipSpec, MediaInfo, RenderedClip, Sentence, Transcript
from ..workspace import Workspace, key_of, make_folder

log = logging.getLogger(__name__)
_CLIP_FILE = re.compile(r"^c\d{3,}\.(mp4|srt|jpg)$")
INDEX = "renders.json"


def render_key(source_key: str, clip: ClipSpec, cfg: RenderConfig) -> str:
    ranked = replace(clip, take=1, best_take=True)
    return key_of("render", __version__, source_key, ranked.to_dict(), cfg.model_dump())


class RenderIndex:
    """renders.json, read once and written atomically after every clip (thread-safe)."""

    def __init__(self, ws: Workspace, source_key: str, cfg: RenderConfig) -> None:
        self.ws, self.source_key, self.cfg = ws, source_key, cfg
        self.entries: dict[str, Any] = ws.read_json(INDEX, _checked) or {}
        self.clips_dir = make_folder(ws.out_dir / "clips", "clips folder")
        self.lock = threading.Lock()

    def done(self, clip: ClipSpec, only: set[str] | None = None) -> RenderedClip | None:
        """The clip's render when it is on disk and current (or not to be redone: ``only``)."""
        prev = self.entries.get(clip.id)
        fresh = prev and prev.get("key") == render_key(self.source_key, clip, self.cfg)
        if prev and (fresh or (only is not None and clip.id not in only)) \
                and (self.clips_dir / f"{clip.id}.mp4").is_file():
            return RenderedClip.from_dict(prev["clip"])
        return None

    def render(self, info: MediaInfo, clip: ClipSpec, transcript: Transcript,
               sentences: Sequence[Sentence]) -> RenderedClip:
        result = render_clip(info, clip, transcript, sentences, self.cfg, self.clips_dir)
        with self.lock:
            self.entries[clip.id] = {"key": render_key(self.source_key, clip, self.cfg), "clip": result.to_dict()}
            self.ws.write_json(INDEX, self.entries)
        return result

    def remove_stale(self, wanted: set[str]) -> None:
        """Clips of an earlier plan that this plan no longer has (only files clipper names)."""
        for f in self.clips_dir.iterdir():
            if _CLIP_FILE.match(f.name) and f.name.split(".")[0] not in wanted:
                f.unlink()
                self.entries.pop(f.name.split(".")[0], None)
            elif f.name.startswith(".c") and f.is_dir():
                shutil.rmtree(f, ignore_errors=True)  # temp folder of a killed render


class RenderQueue:
    """Clips rendered in the background, in order of publication; ``on_done`` after each
    (under a lock, in publication order of completion)."""

    def __init__(self, index: RenderIndex, jobs: int, checkpoint: Callable[[], None],
                 on_done: Callable[[list[RenderedClip]], None] | None = None) -> None:
        self.index, self.checkpoint, self.on_done = index, checkpoint, on_done
        self.pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="clipper-render")
        self.futures: list[Future] = []
        self.rendered: dict[str, RenderedClip] = {}
        self.encoded: set[str] = set()     # clips this queue encoded (the rest were on disk)
        self.lock = threading.Lock()

    def submit(self, info: MediaInfo, clip: ClipSpec, transcript: Transcript, sentences: Sequence[Sentence]) -> None:
        def work() -> RenderedClip:
            result = self.index.done(clip)
            if result is None:
                self.checkpoint()   # a stop request lets the clip in hand finish, starts no other
                log.info("rendering %s (%.1f-%.1fs)", clip.id, clip.start, clip.end)
                result = self.index.render(info, clip, transcript, sentences)
                self.encoded.add(clip.id)
                log.info("published %s (%.1f-%.1fs)", clip.id, clip.start, clip.end)
            with self.lock:
                self.rendered[clip.id] = result
                if self.on_done:
                    self.on_done(list(self.rendered.values()))
            return result

        self.futures.append(self.pool.submit(work))

    def join(self) -> dict[str, RenderedClip]:
        """Wait for every clip; the first error is raised once all have stopped."""
        self.pool.shutdown(wait=True)
        error = next((f.exception() for f in self.futures if f.exception()), None)
        if error is not None:
            raise error
        return self.rendered

    def abandon(self) -> None:
        """Stop starting clips (an error or a stop elsewhere); the one in hand finishes."""
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True)


def _checked(data: Any) -> dict[str, Any]:
    """renders.json checked: {clip id: {"key": str, "clip": a RenderedClip}}."""
    if not isinstance(data, dict):
        raise ValueError("not a table of rendered clips")
    for value in data.values():
        if not isinstance(value, dict) or not isinstance(value.get("key"), str):
            raise ValueError("an entry has no key")
        RenderedClip.from_dict(value["clip"])
    return data

