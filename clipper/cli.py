"""The ``clipper`` command line: parse, load config, call the pipeline. Nothing else lives here.

Errors from the library (ClipperError) become one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

if __name__ == "__main__":     # python -m clipper.cli: the same early handlers as the console script
    from clipper.stopping import install

    install()

import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

import click

from ._version import __version__
from .config import KINDS, available_categories, load_category, load_config
from .errors import ClipperError, ConfigError, WorkspaceError
from .stopping import first_signal, request, requested, reset, stopped_line


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _overrides(language: str | None, model: str | None, kinds: str | None, category: str | None,
               backend: str | None = None, llm_model: str | None = None,
               base_url: str | None = None) -> dict[str, Any]:
    o: dict[str, Any] = {"transcribe": {}, "segment": {}}
    if llm_model:
        # The model flag names the model of whichever language-model backend is in use.
        o["segment"]["transformers" if backend != "openai" else "openai"] = {"model": llm_model}
    if base_url:
        o["segment"].setdefault("openai", {})["base_url"] = base_url
    if language:
        o["transcribe"]["language"] = language
    if model:
        o["transcribe"]["model"] = model
    if kinds:
        o["segment"]["kinds"] = [k.strip() for k in kinds.split(",") if k.strip()]
    if category:
        o["segment"]["category"] = category
    if backend:
        o["segment"]["backend"] = backend
    return o


def _quiet_lost_stop(hook: Callable[[Any], None]) -> Callable[[Any], None]:
    """``sys.unraisablehook`` that drops the KeyboardInterrupt of a signal that landed in a
    finaliser (Python prints such an exception with its traceback and goes on): the stop is
    requested already and ends the command with its one line. Anything else goes to ``hook``."""
    def quiet(unraisable: Any) -> None:
        if not (isinstance(unraisable.exc_value, KeyboardInterrupt) and requested()):
            hook(unraisable)
    return quiet


class _Group(click.Group):
    """Turns ClipperError into a one-line message and its exit code.

    Ctrl-C is remembered when it arrives: whatever error it causes on its way out (an import
    cut short and reported as a missing package, a child process killed by the same signal)
    ends as "interrupted", exit 130, not as that error.
    """

    def invoke(self, ctx: click.Context) -> Any:
        previous: dict[int, Any] = {}

        def on_signal(signum, frame):
            request(signum)   # also read by the pipeline's stop checks
            raise KeyboardInterrupt

        reset()
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a service manager, `kill`) ends like Ctrl-C: what is saved stays saved
            # (stage outputs and transcript windows are written atomically), the next run
            # resumes, and the exit code says which signal it was (130 or 143). The watch
            # daemon installs its own handlers to stop after the step in hand.
            previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        unraisable = sys.unraisablehook
        sys.unraisablehook = _quiet_lost_stop(unraisable)
        try:
            result = super().invoke(ctx)
        except KeyboardInterrupt:
            self._stopped()
        except ClipperError as exc:
            if requested():
                self._stopped()
            click.echo(f"clipper: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        finally:
            sys.unraisablehook = unraisable
            for s, h in previous.items():
                signal.signal(s, h)
        if requested():
            # The KeyboardInterrupt was lost (a signal that lands in a finaliser has its
            # exception dropped) and the command ran on: it still ends as the signal says.
            self._stopped()
        return result

    @staticmethod
    def _stopped() -> None:
        line, code = stopped_line(first_signal() or signal.SIGINT)
        click.echo(line, err=True)
        sys.exit(code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="clipper")
@click.option("-v", "--verbose", count=True, help="-v for progress logs, -vv for debug.")
def main(verbose: int) -> None:
    """Turn long livestream recordings into short vertical clips, one per selling point."""
    _setup_logging(verbose)


_language = click.option("--language", help="Spoken language: auto, zh, en, es, pt, ru, ...")
_model = click.option("--model", help="Whisper model: base, tiny.en, small, a folder or a hub id.")
_config = click.option("--config", "config_file", type=click.Path(dir_okay=False), help="A TOML config file.")
_backend = click.option("--backend", type=click.Choice(["embed", "rules", "transformers", "openai"]),
                        help="Segmentation backend (default: embed, trained on real host speech).")
_llm_model = click.option("--llm-model", help="Language model: smollm2, gemma3-270m, a folder, a .gguf, a hub id, "
                          "or the served model name with --backend openai.")
_base_url = click.option("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1.")


@main.command()
@click.argument("source", type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder.")
@_config
@_language
@_model
@click.option("--kinds", help=f"Kinds to clip, comma-separated: {', '.join(KINDS)}.")
@click.option("--category", help=f"Product category: {', '.join(available_categories())} or a TOML path.")
@click.option("--jobs", type=int, help="Clips rendered at once.")
@click.option("--preset", help="Platform preset: douyin, tiktok, xiaohongshu, taobao, taobao-square, "
              "youtube-shorts, instagram-reels.")
@_backend
@_llm_model
@_base_url
def run(source: str, out_dir: str, config_file: str | None, language: str | None, model: str | None,
        kinds: str | None, category: str | None, jobs: int | None, preset: str | None, backend: str | None,
        llm_model: str | None, base_url: str | None) -> None:
    """Clip SOURCE into OUT: clips/<id>.mp4, clips/<id>.srt and manifest.json."""
    from .pipeline import Pipeline
    from .progress import terminal_progress

    overrides = _overrides(language, model, kinds, category, backend, llm_model, base_url)
    if jobs:
        overrides["render"] = {"jobs": jobs}
    config = load_config(config_file, overrides, preset=preset)
    with terminal_progress() as progress:
        result = Pipeline(config, progress).run(source, out_dir)
    n = len(result.clips)
    if n == 0:
        click.echo(f"no clips: no {' or '.join(config.segment.kinds)} found in {source}", err=True)
    for clip in result.manifest["clips"]:
        click.echo(f"{clip['id']}  {clip['start']:8.2f}-{clip['end']:8.2f}  {clip['kind']:<13} "
                   f"{','.join(clip['tags']):<22} {clip['file']}")
    reused = f" (reused: {', '.join(result.reused)})" if result.reused else ""
    click.echo(f"{n} clips, manifest: {result.manifest_path}{reused}")


@main.command()
@click.argument("source", type=click.Path())
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="transcript.json")
@_config
@_language
@_model
def transcribe(source: str, out_file: str, config_file: str | None, language: str | None,
               model: str | None) -> None:
    """Transcribe SOURCE to a JSON transcript with word timestamps."""
    from .pipeline import Pipeline
    from .progress import terminal_progress
    from .sentences import split_sentences
    from .workspace import Workspace, write_json_atomic

    config = load_config(config_file, _overrides(language, model, None, None))
    out = Path(out_file)
    with terminal_progress() as progress:
        pipeline = Pipeline(config, progress)
        info = pipeline.probe(source)
        transcript, _ = pipeline.transcribe(info, Workspace(out.parent / f".{out.stem}.clipper"))
    sentences = split_sentences(transcript, config.sentences)
    data = transcript.to_dict() | {"sentences": [s.to_dict() for s in sentences.sentences]}
    write_json_atomic(out, data)
    click.echo(f"{len(transcript.words)} words, {len(sentences.sentences)} sentences, "
               f"language {transcript.language}: {out}")


@main.command()
@click.argument("infile", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="OUT.jsonl")
@_config
@_backend
@click.option("--category", help=f"{', '.join(available_categories())}, auto, or a TOML path.")
@_llm_model
@_base_url
def classify(infile: str, out_file: str, config_file: str | None, backend: str | None,
             category: str | None, llm_model: str | None, base_url: str | None) -> None:
    """Label sentences (JSON Lines: id, text, passage) as SELLING_POINT, PROMO or CHATTER."""
    from .segment.base import Item, classify_items, guess_category
    from .text import read_text_file
    from .workspace import write_text_atomic

    config = load_config(config_file, _overrides(None, None, None, category, backend, llm_model, base_url))
    items = []
    for n, line in enumerate(read_text_file(Path(infile)).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(Item(str(row["id"]), str(row["text"]), str(row.get("passage", ""))))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"line {n} is not {{\"id\", \"text\"[, \"passage\"]}} JSON ({exc})",
                              path=infile) from None
    name = config.segment.category
    if name == "auto":
        name = guess_category([item.text for item in items])
    segments, fallbacks = classify_items(items, config.segment, load_category(name))
    lines = [json.dumps({"id": s.sentence_id, "label": s.label.value, "tags": list(s.tags),
                         "product": s.product, "time_bound": s.time_bound, "backend": s.backend},
                        ensure_ascii=False)
             for s in segments]
    write_text_atomic(Path(out_file), "\n".join(lines) + ("\n" if lines else ""))
    note = f", {len(fallbacks)} windows fell back to rules" if fallbacks else ""
    click.echo(f"{len(segments)} sentences classified (category {name}{note}): {out_file}")


@main.command()
@click.argument("manifests", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False), help="The remix .mp4.")
@_config
@click.option("--tags", help="Clips with any of these tags, comma-separated.")
@click.option("--kinds", help="Clips of these kinds, comma-separated (default selling_point).")
@click.option("--product", type=int, help="Clips of this product number only.")
@click.option("--best/--all-takes", default=False, help="Only the best take of each product and subject.")
@click.option("--preset", help="Platform preset for the frame and encoder.")
@click.option("--max-seconds", type=float, default=0.0, help="Longest remix (clips that would pass it are skipped).")
@click.option("--transition", type=float, default=0.5, show_default=True, help="Cross-fade seconds (0: cut).")
@click.option("--intro", default="", help="Text of an intro card.")
@click.option("--outro", default="", help="Text of an outro card.")
@click.option("--music", default="", type=click.Path(dir_okay=False), help="Background music, ducked under speech.")
def remix(manifests: tuple[str, ...], out_file: str, config_file: str | None, tags: str | None,
          kinds: str | None, product: int | None, best: bool, preset: str | None, max_seconds: float,
          transition: float, intro: str, outro: str, music: str) -> None:
    """Assemble clips from one or more MANIFESTS into one video (混剪), with its own manifest."""
    from .remix import remix as do_remix
    from .remix import select

    config = load_config(config_file, None, preset=preset)
    split = lambda v: tuple(x.strip() for x in v.split(",") if x.strip()) if v else ()  # noqa: E731
    picks = select([Path(m) for m in manifests], tags=split(tags), kinds=split(kinds) or ("selling_point",),
                   product=product, best_only=best, max_seconds=max_seconds, transition=transition)
    result = do_remix(picks, config, Path(out_file), transition=transition, intro=intro, outro=outro,
                      music=music or config.render.music)
    click.echo(f"{len(result['clips'])} clips, {result['duration']:.1f}s: {out_file} "
               f"(manifest {Path(out_file).with_suffix('.json').name})")


def _run_config(run_dir: str, config_file: str | None, preset: str | None, jobs: int | None = None):
    """The settings a finished run was made with, changed by a config file, preset or --jobs."""
    from .pipeline import load_run

    saved = load_run(run_dir)
    return load_config(config_file, {"render": {"jobs": jobs}} if jobs else None, preset=preset, base=saved.config)


@main.command()
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--approved", is_flag=True, help="Apply only the edits of clips a reviewer approved "
              "(rejections always apply; other edits wait).")
@_config
@click.option("--preset", help="Render with another platform preset.")
@click.option("--jobs", type=int, help="Clips rendered at once.")
def render(run_dir: str, approved: bool, config_file: str | None, preset: str | None, jobs: int | None) -> None:
    """Render the run in DIR again from its saved stages, with its review decisions applied.

    Only clips whose render changed are encoded again (an edit, a new preset or setting).
    """
    from .pipeline import Pipeline
    from .progress import terminal_progress

    config = _run_config(run_dir, config_file, preset, jobs)
    with terminal_progress() as progress:
        result = Pipeline(config, progress).rerender(run_dir, approved_only=approved)
    for clip in result.manifest["clips"]:
        review = clip.get("review", {})
        click.echo(f"{clip['id']}  {clip['start']:8.2f}-{clip['end']:8.2f}  {review.get('state', 'pending'):<9} "
                   f"{','.join(review.get('edited', [])):<18} {clip['file']}")
    rejected = result.manifest.get("rejected", [])
    reused = f", reused: {', '.join(result.reused)}" if result.reused else ""
    click.echo(f"{len(result.clips)} clips, {len(rejected)} rejected{reused}, manifest: {result.manifest_path}")


@main.command()
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback requires a token on every request.")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port.")
@click.option("--token", help="The token for a non-loopback bind (default: a new random one, printed).")
@_config
@click.option("--preset", help="Preset the page's re-render uses (default: the run's own settings).")
def review(run_dir: str, host: str, port: int, token: str | None, config_file: str | None,
           preset: str | None) -> None:
    """Serve a review page for the run in DIR: approve, reject, nudge edges, fix words, re-render."""
    from .review.server import make_server

    _run_config(run_dir, config_file, preset)   # a bad config fails here, not at the first render
    try:
        server, _, url = make_server(run_dir, lambda: _run_config(run_dir, config_file, preset), host, port, token)
    except OSError as exc:
        raise WorkspaceError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    click.echo(f"review page: {url}  (Ctrl-C stops it)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Output folder: one sub-folder per source.")
@_config
@_language
@_model
@click.option("--preset", help="Platform preset for every stream.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool here; ray: tasks on a Ray cluster (pip install 'clipper[ray]').")
@click.option("--address", help="Ray cluster address (default: start a local Ray instance).")
@click.option("--workers", type=click.IntRange(0, 256), default=0,
              help="Streams worked on at once (local: processes; ray: CPUs of a local instance). 0: one / all.")
def batch(sources: tuple[str, ...], out_dir: str, config_file: str | None, language: str | None, model: str | None,
          preset: str | None, engine: str, address: str | None, workers: int) -> None:
    """Clip many SOURCES into OUT/<name>/: transcription and rendering as separate tasks."""
    from .batch import plan_batch, run_batch

    config = load_config(config_file, _overrides(language, model, None, None), preset=preset)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise WorkspaceError("output path exists and is not a folder", path=str(out))
    items = plan_batch(sources, out)
    total = len(items)
    done = {"n": 0}

    def on_event(item, what: str) -> None:
        if what.startswith(("rendered", "failed")):
            done["n"] += 1
        click.echo(f"[{done['n']}/{total}] {item.source.name}: {what}", err=True)

    results = run_batch(items, config, engine=engine, workers=workers, address=address, on_event=on_event)
    for r in results:
        state = f"{r.clips} clips" if r.ok else f"error: {r.error}"
        click.echo(f"{r.out_dir}  {state}")
    failed = [r for r in results if not r.ok]
    click.echo(f"{total - len(failed)} of {total} streams clipped into {out}")
    if failed:
        # The first failure's code: a batch that failed on bad input says so like a run would.
        sys.exit(failed[0].exit_code or 1)


@main.command()
@click.argument("inbox", type=click.Path(file_okay=False))
@click.option("--out", "outbox", required=True, type=click.Path(file_okay=False), help="Output folder (OUTBOX).")
@_config
@click.option("--live/--no-live", default=None, help="Clip growing recordings while they are written.")
@_language
@_model
def watch(inbox: str, outbox: str, config_file: str | None, live: bool | None, language: str | None,
          model: str | None) -> None:
    """Clip every recording that lands in INBOX into OUTBOX/<name>/, until stopped (SIGTERM, Ctrl-C)."""
    from .daemon import run_daemon

    config = load_config(config_file, _overrides(language, model, None, None))
    run_daemon(Path(inbox), Path(outbox), config, live=live)


@main.command()
@click.argument("outbox", type=click.Path(exists=True, file_okay=False))
def status(outbox: str) -> None:
    """List the watch daemon's jobs in OUTBOX and their state."""
    import time

    from .daemon.jobs import JobStore

    db = Path(outbox) / ".clipper" / "jobs.sqlite"
    if not db.is_file():
        raise ConfigError("no clipper watch has used this folder", path=outbox)
    store = JobStore(db)
    jobs = store.all()
    store.close()
    for job in jobs:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.updated))
        extra = f"{job.clips} clips" if job.state == "done" else (job.error or "")
        click.echo(f"{job.id:4d}  {job.state:<8} {job.attempts}x  {when}  {Path(job.source).name}  {extra}")
    counts = {s: sum(j.state == s for j in jobs) for s in ("pending", "running", "done", "failed")}
    click.echo(", ".join(f"{n} {s}" for s, n in counts.items()))


@main.command(name="eval")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--real", is_flag=True, help="Score on the real labelled host speech (training/labels + ../shared): "
              "grouped cross-validation for the trained backend, a straight pass for the others.")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@click.option("--by", type=click.Choice(["passage", "channel"]), default="passage", show_default=True,
              help="What a cross-validation fold holds out.")
@_config
@_backend
@click.option("--category", help="Category for rows that name none.")
@_llm_model
@_base_url
def eval_(labelled: str | None, real: bool, folds: int, by: str, config_file: str | None, backend: str | None,
          category: str | None, llm_model: str | None, base_url: str | None) -> None:
    """Score a backend: P/R/F1 per label, macro-F1, tags, product switches, confusion, speed.

    LABELLED is a JSON Lines file ({"id", "text", "passage"?, "label", "tags"?, "category"?});
    --real scores on the real labelled livestream speech instead.
    """
    from .segment.base import classify_items
    from .segment.evaluate import evaluate, read_labelled, report

    config = load_config(config_file, _overrides(None, None, None, category, backend, llm_model, base_url))
    if real:
        from .segment.realeval import evaluate_real

        click.echo(evaluate_real(config.segment, folds=folds, by=by))
        return
    if not labelled:
        raise ConfigError("give a labelled JSON Lines file, or --real")
    rows = read_labelled(Path(labelled))
    scores = evaluate(rows, lambda items, cat: classify_items(items, config.segment, load_category(cat))[0],
                      config.segment.category if config.segment.category != "auto" else "apparel")
    click.echo(report(scores, f"{labelled}: backend {config.segment.backend}"))


@main.command(name="export")
@click.argument("run_dir", metavar="DIR", type=click.Path(file_okay=False))
# The names of clipper.export.FORMATS, spelled out so that every command does not load OTIO.
@click.option("--format", "fmt", required=True, type=click.Choice(["otio", "fcpxml", "fcp7xml", "edl", "jianying"]),
              help="otio, Final Cut Pro X XML, FCP 7 XML (Premiere), CMX 3600 EDL, or a 剪映 draft folder.")
@click.option("--approved", is_flag=True, help="Only clips a reviewer approved.")
@click.option("--out", "out_path", type=click.Path(), help="The file to write (the draft's folder for jianying; "
              "default: DIR/exports/).")
def export(run_dir: str, fmt: str, approved: bool, out_path: str | None) -> None:
    """Hand the clips of the run in DIR to an editor: a timeline of their ranges in the source."""
    from .export import export_run

    click.echo(export_run(Path(run_dir), fmt, Path(out_path) if out_path else None, approved=approved))


if __name__ == "__main__":
    main()
