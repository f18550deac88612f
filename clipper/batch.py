"""Many streams at once: ``clipper batch SOURCES... --out DIR [--engine local|ray]``.

Each source is clipped into ``DIR/<name>/`` (the folder ``clipper run`` writes) in two tasks:
*analyse* (probe, transcribe, segment, scene cuts, plan: the recogniser's work) and *render*
(the clips and manifest from the saved plan: the encoder's work). They are separate tasks so
an engine can run them on different workers with their own resource requests — a GPU worker
transcribes the next stream while CPU workers render the last one — and so a crashed worker
costs only its task: the retry resumes from the stage cache (transcript windows, rendered
clips) instead of starting over, and the run lock keeps two attempts off one folder.

``local`` (the default) is a process pool on this machine; ``ray`` submits the same tasks to a
Ray cluster (``--address``; a local instance when omitted). Ray is an optional extra.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .config import Config, load_config
from .errors import ClipperError, ConfigError, StageError

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")
RETRIES = 2             # a task whose worker died is tried this many more times


@dataclass(frozen=True)
class BatchItem:
    source: Path
    out_dir: Path


@dataclass
class StreamResult:
    source: str
    out_dir: str
    clips: int = 0
    error: str = ""
    exit_code: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


def plan_batch(sources: Sequence[str | Path], out: Path) -> list[BatchItem]:
    """One output folder per source, named after it; two sources with one name get -2, -3…"""
    if not sources:
        raise ConfigError("no sources given")
    items, taken = [], set()
    for src in sources:
        path = Path(src)
        base = re.sub(r"[\x00-\x1f/\\]", "_", path.stem if path.suffix else path.name) or "stream"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        items.append(BatchItem(path, out / name))
    return items


# -- the two tasks (module level: pickled to worker processes and Ray workers) ---------------
def analyse_task(source: str, out_dir: str, config: dict[str, Any]) -> str:
    """Everything up to the cut plan, saved in the stream's work folder; returns the folder."""
    from .pipeline import Pipeline

    _pid_note(out_dir, "analyse")
    Pipeline(load_config(base=config)).analyse(source, out_dir)
    return out_dir


def render_task(out_dir: str, config: dict[str, Any]) -> dict[str, Any]:
    """The clips and manifest from the saved plan (nothing is transcribed again)."""
    from .pipeline import Pipeline

    _pid_note(out_dir, "render")
    result = Pipeline(load_config(base=config)).rerender(out_dir)
    return {"clips": len(result.clips), "manifest": str(result.manifest_path)}


def _pid_note(out_dir: str, task: str) -> None:
    """Which process holds a task (``.clipper/worker-<task>.pid``): for operators, and for
    the test that kills a worker mid-task."""
    path = Path(out_dir) / ".clipper" / f"worker-{task}.pid"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(os.getpid()))


def _failure(exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit code) of a task's failure, unwrapping Ray's error wrapper."""
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, ClipperError):
        return str(cause), cause.exit_code
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}", StageError.exit_code


# -- engines -----------------------------------------------------------------------------
def run_batch(items: Sequence[BatchItem], config: Config, engine: str = "local", workers: int = 0,
              address: str | None = None,
              on_event: Callable[[BatchItem, str], None] | None = None) -> list[StreamResult]:
    """Clip every item; one failing stream does not stop the others. ``on_event(item, what)``
    hears "analysed", "rendered" and "failed: …" as they happen."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine '{engine}' (known: {', '.join(ENGINES)})")
    cfg = config.model_dump(mode="json")
    note = on_event or (lambda item, what: log.info("%s: %s", item.source.name, what))
    runner = _run_ray if engine == "ray" else _run_local
    return runner(list(items), cfg, workers, address, note)


def share_cores(cfg: dict[str, Any], workers: int, cores: int) -> dict[str, Any]:
    """The config each of ``workers`` parallel runs gets: the recogniser's threads, when they
    are "all cores" (0), are the run's share of them (pure). Two runs each with an OpenMP pool
    as large as the machine keep descheduling each other's threads at every barrier; measured
    on the test suite (two workers, two cores): 652-698 s of CPU with two-thread pools, 543 s
    with one thread each. (Ray sets each task's OMP_NUM_THREADS to its CPU request itself.)"""
    if workers <= 1 or cfg["transcribe"]["threads"]:
        return cfg
    return {**cfg, "transcribe": {**cfg["transcribe"], "threads": max(1, cores // workers)}}


def _run_local(items: list[BatchItem], cfg: dict[str, Any], workers: int, _address: str | None,
               note: Callable[[BatchItem, str], None]) -> list[StreamResult]:
    results = {item: StreamResult(str(item.source), str(item.out_dir)) for item in items}
    started = {item: time.perf_counter() for item in items}
    cfg = share_cores(cfg, workers or 1, os.cpu_count() or 1)
    with _LocalPool(workers or 1, cfg) as pool:
        for item in items:
            pool.submit("analyse", item, 0)
        while pool.pending:
            for stage, item, attempt, outcome in pool.finished():
                res = results[item]
                if isinstance(outcome, BaseException):
                    if isinstance(outcome, BrokenProcessPool) and attempt < RETRIES:
                        log.warning("%s: a worker died during %s; retrying from the saved stages", item.source, stage)
                        pool.submit(stage, item, attempt + 1)
                        continue
                    res.error, res.exit_code = _failure(outcome)
                    note(item, f"failed: {res.error}")
                    continue
                res.seconds[stage] = round(time.perf_counter() - started[item], 1)
                if stage == "analyse":
                    note(item, "analysed")
                    pool.submit("render", item, 0)
                else:
                    res.clips = outcome["clips"]
                    note(item, f"rendered {res.clips} clips")
    return [results[item] for item in items]


class _LocalPool:
    """A process pool that survives a dead worker: a dead worker breaks a ProcessPoolExecutor
    for every task in it, so the pool is replaced and each of those tasks reported as broken
    (the caller resubmits it; it resumes from the saved stages)."""

    def __init__(self, workers: int, cfg: dict[str, Any]) -> None:
        self.workers, self.cfg = workers, cfg
        self.pending: dict[Future, tuple[str, BatchItem, int]] = {}
        self._pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        # spawn, not fork: a forked copy of a process holding CTranslate2 and ffmpeg threads
        # can deadlock, and each worker loads its own model once anyway.
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, stage: str, item: BatchItem, attempt: int) -> None:
        fut = (self._pool.submit(analyse_task, str(item.source), str(item.out_dir), self.cfg) if stage == "analyse"
               else self._pool.submit(render_task, str(item.out_dir), self.cfg))
        self.pending[fut] = (stage, item, attempt)

    def finished(self) -> list[tuple[str, BatchItem, int, Any]]:
        done, _ = wait(self.pending, return_when=FIRST_COMPLETED)
        out = []
        for fut in done:
            stage, item, attempt = self.pending.pop(fut)
            try:
                out.append((stage, item, attempt, fut.result()))
            except BaseException as exc:  # noqa: BLE001 - reported per stream by the caller
                out.append((stage, item, attempt, exc))
        if any(isinstance(o[3], BrokenProcessPool) for o in out):
            # Every other task of the broken pool fails the same way: collect them now.
            for fut in list(self.pending):
                stage, item, attempt = self.pending.pop(fut)
                out.append((stage, item, attempt, BrokenProcessPool("worker pool broken")))
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new()
        return out

    def __enter__(self) -> "_LocalPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(items: list[BatchItem], cfg: dict[str, Any], workers: int, address: str | None,
             note: Callable[[BatchItem, str], None]) -> list[StreamResult]:
    try:
        import ray
    except ImportError:
        raise ConfigError("the ray engine needs Ray: pip install 'clipper[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        elif workers:
            kwargs["num_cpus"] = workers
        ray.init(**kwargs)
    gpu = cfg["transcribe"]["device"] == "cuda" or (
        cfg["transcribe"]["device"] == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
    # Resource requests: transcription takes a GPU when there is one (else one CPU: the
    # recogniser's own threads are set by transcribe.threads), rendering the CPUs its
    # parallel encodes use. max_retries re-runs a task whose worker died.
    analyse = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0, max_retries=RETRIES)(analyse_task)
    render = ray.remote(num_cpus=max(1, min(cfg["render"]["jobs"], int(ray.cluster_resources().get("CPU", 1)))),
                        max_retries=RETRIES)(render_task)
    results = {item: StreamResult(str(item.source), str(item.out_dir)) for item in items}
    t0 = time.perf_counter()
    refs: dict[Any, tuple[str, BatchItem]] = {}
    for item in items:
        a = analyse.remote(str(item.source), str(item.out_dir), cfg)
        refs[a] = ("analyse", item)
        refs[render.remote(a, cfg)] = ("render", item)   # runs once the analysis is done
    try:
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            stage, item = refs[done[0]]
            res = results[item]
            try:
                value = ray.get(done[0])
            except Exception as exc:  # noqa: BLE001 - RayTaskError wraps the task's own error
                if not res.error:
                    res.error, res.exit_code = _failure(exc)
                    note(item, f"failed: {res.error}")
                continue
            res.seconds[stage] = round(time.perf_counter() - t0, 1)
            if stage == "analyse":
                note(item, "analysed")
            else:
                res.clips = value["clips"]
                note(item, f"rendered {res.clips} clips")
    finally:
        if started_here:
            ray.shutdown()
    return [results[item] for item in items]
