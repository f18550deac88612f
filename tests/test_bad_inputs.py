"""The bad-input corpus (scripts/make_bad_inputs.py): every case through the real command line.

Each case checks its exit code, its one-line message (never a traceback), and that nothing
half-written or unlisted is left behind. Most run in this process (click's CliRunner: the
Whisper model loads once); the two that need a process of their own (a second run while the
first holds the folder, Ctrl-C) run ``python -m clipper.cli``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import make_bad_inputs
from clipper.cli import main

CASES = {case["name"]: case for case in make_bad_inputs.CASES}


@pytest.fixture(scope="session")
def corpus(sample_stream) -> Path:
    """The corpus, built once and kept between sessions (rebuilt when its VERSION changes)."""
    dest = Path(tempfile.gettempdir()) / f"clipper-bad-inputs-v{make_bad_inputs.VERSION}"
    if not (dest / "cases.json").is_file():
        building = Path(tempfile.mkdtemp(prefix=".clipper-bad-inputs-", dir=dest.parent))
        make_bad_inputs.build(building, sample_stream)
        try:
            building.rename(dest)
        except OSError:   # another session finished first
            shutil.rmtree(building, ignore_errors=True)
    make_bad_inputs.build(dest, sample_stream)
    return dest


@pytest.fixture(scope="session")
def base_run(corpus, tmp_path_factory) -> Path:
    """A finished run of the plain speech piece, copied by the cases that damage a run."""
    out = tmp_path_factory.mktemp("base") / "out"
    result = CliRunner().invoke(main, ["run", str(corpus / "s6.mp4"), "--out", str(out),
                                       "--config", str(corpus / "cheap.toml")])
    assert result.exit_code == 0, result.output + result.stderr
    return out


_HELD: list[Any] = []


@pytest.fixture(autouse=True)
def _release_locks():
    yield
    while _HELD:
        _HELD.pop().release()


def _fill(args: list[str], values: dict[str, str]) -> list[str]:
    out = []
    for a in args:
        for key, value in values.items():
            a = a.replace("{" + key + "}", value)
        out.append(a)
    return out


def _setup(ops: list[list[Any]], tmp: Path, base_run_dir) -> None:
    for op, *params in ops:
        if op == "base_run":
            shutil.copytree(base_run_dir(), tmp / "out", symlinks=True)
            continue
        path = tmp / params[0]
        if op == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(params[1])
        elif op == "dir":
            path.unlink(missing_ok=True)
            path.mkdir(parents=True)
        elif op == "garbage":
            path.write_bytes(b"\x00\xff\xfe not json {" + os.urandom(256))
        elif op == "json":
            path.write_text(json.dumps(params[1]))
        elif op == "rm":
            path.unlink()
        elif op == "hold_lock":   # as a run in progress does
            from clipper.workspace import FolderLock

            _HELD.append(FolderLock(path))
        elif op == "truncated_model":
            from clipper.transcribe.models import resolve

            shutil.copytree(resolve("tiny.en"), path, ignore=shutil.ignore_patterns("model.bin"))
            with open(Path(resolve("tiny.en")) / "model.bin", "rb") as fh:
                (path / "model.bin").write_bytes(fh.read(1 << 20))
        else:
            raise ValueError(op)


def _get(data: Any, path: str) -> list[Any]:
    """Values at a dotted path; ``*`` takes every item of a list."""
    values = [data]
    for part in path.split("."):
        nxt = []
        for v in values:
            if part == "*":
                nxt.extend(v)
            elif isinstance(v, list):
                nxt.append(v[int(part)])
            else:
                nxt.append(v[part])
        values = nxt
    return values


_OPS = {"==": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "contains": lambda a, b: b in a}


def check_outcome(case: dict[str, Any], tmp: Path, code: int, stdout: str, stderr: str, log_text: str,
                  out: Path | None = None) -> str:
    """Assert the case's expectations; returns what happened, in a few words, for the table."""
    want = case["expect"]
    got = f"exit {code}"
    assert "Traceback" not in stderr, stderr
    assert code == want["exit"], f"exit {code}, expected {want['exit']}\n{stdout}\n{stderr}"
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    if code != 0:
        assert len(lines) == 1, stderr
        assert lines[0].startswith("clipper: error:" if code != 130 else "clipper: interrupted"), stderr
        assert want["message"] in lines[0], lines[0]
        got = lines[0]
    elif "message" in want:
        assert want["message"] in log_text + stderr, f"{want['message']!r} not logged:\n{log_text}{stderr}"
    if "output" in want:
        assert want["output"] in stdout + stderr
    out = out or tmp / "out"
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else None
    if code == 0 and "clips" in want:
        assert manifest is not None, "a successful run writes manifest.json"
        n = len(manifest["clips"])
        assert n >= want["clips"], f"{n} clips, expected at least {want['clips']}: {manifest['dropped']}"
        if "max_clips" in want:
            assert n <= want["max_clips"], f"{n} clips, expected at most {want['max_clips']}"
        got = f"exit 0, {n} clips"
    for path, op, value in want.get("manifest", []):
        values = _get(manifest, path)
        assert values, f"nothing at {path}"
        assert all(_OPS[op](v, value) for v in values), f"{path} = {values}, expected {op} {value!r}"
    if "labels" in want:
        rows = [json.loads(ln) for ln in (tmp / "labels.jsonl").read_text().splitlines()]
        assert {r["id"]: r["label"] for r in rows} == want["labels"]
        got = f"exit 0, {len(rows)} rows labelled"
    if "json" in want:
        name, key, value = want["json"]
        assert json.loads((tmp / name).read_text())[key] == value
        got = f"exit 0, {key} kept as typed"
    for pattern in want.get("exists", []):
        assert list(tmp.glob(pattern)) or (tmp / pattern).exists(), f"{pattern} missing"
    for pattern in want.get("absent", []):
        assert not (tmp / pattern).exists(), f"{pattern} should not exist"
    # Nothing half-written, nothing unlisted.
    leftovers = [p for p in tmp.rglob("*") if p.name.endswith((".tmp", ".part"))
                 or (p.parent.name == "clips" and p.name.startswith(".c"))]
    assert not leftovers, leftovers
    for clips in tmp.rglob("clips"):
        if not clips.is_dir() or not (clips.parent / "manifest.json").is_file():
            assert not clips.is_dir() or not list(clips.glob("*.mp4")), "clips without a manifest"
            continue
        listed = {c["file"] for c in json.loads((clips.parent / "manifest.json").read_text())["clips"]}
        on_disk = {f"clips/{p.name}" for p in clips.glob("*.mp4")}
        assert on_disk == listed, (on_disk, listed)
    return got


def describe(want: dict[str, Any]) -> str:
    """An expectation in a few words."""
    parts = [f"exit {want['exit']}"]
    if want.get("message"):
        parts.append(repr(want["message"]))
    if "clips" in want:
        parts.append(f"{want['clips']} clips" if want.get("max_clips") == want["clips"] else f">= {want['clips']} clips")
    parts += [f"{path} {op} {value!r}" for path, op, value in want.get("manifest", [])]
    parts += [f"{p} exists" for p in want.get("exists", [])]
    return ", ".join(parts)


@pytest.fixture
def base_run_dir(request):
    return lambda: request.getfixturevalue("base_run")


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.get("mode") is None])
def test_case(name, corpus, tmp_path, base_run_dir, monkeypatch, caplog):
    case = CASES[name]
    _setup(case.get("setup", []), tmp_path, base_run_dir)
    src = case["file"] if case.get("cwd") else str(corpus / case["file"])
    if case.get("cwd"):
        monkeypatch.chdir(corpus)
    args = _fill(case.get("args", make_bad_inputs.RUN), {
        "src": src, "out": str(tmp_path / "out"), "tmp": str(tmp_path), "corpus": str(corpus),
        "cfg": str(corpus / "cheap.toml"), "cfg_cover": str(corpus / "cheap-cover.toml")})
    caplog.set_level(logging.WARNING)
    result = CliRunner().invoke(main, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    out = Path(args[args.index("--out") + 1]) if args[0] == "run" and "--out" in args else None
    got = check_outcome(case, tmp_path, result.exit_code, result.stdout, result.stderr, caplog.text, out)
    print(f"| {name} | {describe(case['expect'])} | {got} |")   # the table of pytest -s


def _fill_disk(mount: Path, leave: int) -> None:
    """Write a file that leaves ``leave`` bytes free on the file system at ``mount``."""
    st = os.statvfs(mount)
    with open(mount / "filler", "wb") as fh:
        remaining = st.f_bavail * st.f_frsize - leave
        while remaining > 0:
            remaining -= fh.write(b"\0" * min(remaining, 1 << 20))


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.get("mode") == "disk"])
def test_output_disk_full_or_read_only(name, corpus, tmp_path, base_run_dir):
    """The output folder on a full (or read-only) disk: one line, exit 6, nothing half-written,
    and once there is room the next run finishes, reusing what the failed one had finished."""
    case, disk = CASES[name], CASES[name]["disk"]
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={disk['size']}", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        out = mount / "out"
        if disk.get("analysed"):   # analysis done and saved; the disk fills before the clips
            shutil.copytree(base_run_dir(), out, symlinks=True)
            for path in [*out.glob("clips/*"), out / "manifest.json", out / ".clipper" / "renders.json"]:
                path.unlink()
        if "leave" in disk:
            _fill_disk(mount, disk["leave"])
        if disk.get("read_only"):
            subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        args = ["run", str(corpus / case["file"]), "--out", str(out), "--config", str(corpus / "cheap.toml")]
        result = CliRunner().invoke(main, args)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        got = check_outcome(case, tmp_path, result.exit_code, result.stdout, result.stderr, "", out)
        # Room again: the next run finishes and keeps what was done.
        subprocess.run(["mount", "-o", "remount,rw,size=16m", str(mount)], check=True)
        (mount / "filler").unlink(missing_ok=True)
        again = CliRunner().invoke(main, args)
        assert again.exit_code == 0, again.stderr
        assert json.loads((out / "manifest.json").read_text())["clips"]
        if disk.get("analysed"):
            assert "reused: transcript" in again.stdout, again.stdout
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    print(f"| {name} | {describe(case['expect'])} | {got}; with room again: exit 0 |")


def _clipper(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clipper.cli", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_runs_on_one_folder(corpus, tmp_path):
    """An overlapping cron job: while one run holds the folder a second is refused at once (exit 6),
    and the first finishes as if alone. (The lock is an flock: a second open file, as in another
    process, is refused the same way, so both runs can live in this process.)"""
    from clipper import Pipeline, load_config

    case = CASES["two_runs_one_folder"]
    out = tmp_path / "out"
    holding, release = threading.Event(), threading.Event()
    pipeline = Pipeline(load_config(corpus / "cheap.toml"))
    real_model = pipeline.model

    def load_slowly():   # the first run, caught holding the folder as it is about to transcribe
        holding.set()
        assert release.wait(60)
        return real_model()

    pipeline.model = load_slowly
    result: dict[str, Any] = {}
    first = threading.Thread(target=lambda: result.update(run=pipeline.run(corpus / case["file"], out)))
    first.start()
    try:
        assert holding.wait(60)
        second = CliRunner().invoke(main, ["run", str(corpus / case["file"]), "--out", str(out),
                                           "--config", str(corpus / "cheap.toml")])
    finally:
        release.set()
        first.join(120)
    got = check_outcome(case, tmp_path / "second", second.exit_code, second.stdout, second.stderr, "")
    print(f"| two_runs_one_folder | {describe(case['expect'])} | {got}; the first: exit 0, "
          f"{len(result['run'].manifest['clips'])} clips |")
    manifest = result["run"].manifest
    assert manifest["clips"] and sorted(p.name for p in (out / "clips").glob("*.mp4")) == \
        sorted(Path(c["file"]).name for c in manifest["clips"])
    again = CliRunner().invoke(main, ["run", str(corpus / case["file"]), "--out", str(out),
                                      "--config", str(corpus / "cheap.toml")])
    assert again.exit_code == 0, again.stderr   # the lock went with the first run


@pytest.mark.parametrize("sig, code, last_line", [(signal.SIGINT, 130, "clipper: interrupted"),
                                                   (signal.SIGTERM, 143, "clipper: stopped (SIGTERM)")])
def test_signal_while_transcribing(corpus, tmp_path, sig, code, last_line):
    """Ctrl-C (or a service manager's SIGTERM) in the first transcription window: one line, its
    exit code, nothing half-written, and the next run finishes."""
    case = CASES["sigint_while_transcribing"]
    out = tmp_path / "out"
    args = ["-v", "run", str(corpus / case["file"]), "--out", str(out), "--config", str(corpus / "cheap.toml")]
    proc = _clipper(*args, cwd=tmp_path)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if case["at"] in line:
            proc.send_signal(sig)
            break
    rest = proc.communicate(timeout=60)[1]
    stderr = "".join(seen) + rest
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1].startswith(last_line), stderr
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith((".tmp", ".part"))]
    again = CliRunner().invoke(main, args[1:])
    assert again.exit_code == 0, again.stderr
    print(f"| {signal.Signals(sig).name.lower()}_while_transcribing | exit {code} | exit {code}, '{last_line}'; "
          f"the next run: exit 0 |")


def test_a_stop_whose_keyboard_interrupt_was_lost_still_stops(corpus, tmp_path, monkeypatch):
    """A signal that lands while Python runs a finaliser (``Wave_read.__del__`` and
    ``ZipFile.__del__``, seen here) has its KeyboardInterrupt dropped: the run still stops at
    its next step, with the signal's line and exit code (and no traceback of the dropped
    exception), and nothing published."""
    from clipper.pipeline.run import Pipeline

    real_probe = Pipeline.probe

    class Finalised:
        def __del__(self):
            signal.raise_signal(signal.SIGTERM)   # the handler runs here, in the finaliser
            self.done = True

    def probe_then_lose_the_interrupt(self, source):
        Finalised()     # collected at once: its exception goes to sys.unraisablehook
        return real_probe(self, source)

    monkeypatch.setattr(Pipeline, "probe", probe_then_lose_the_interrupt)
    # Python's own hook, as outside pytest (whose hook turns the exception into a warning):
    # it prints the dropped exception's traceback to stderr.
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    out = tmp_path / "out"
    case = CASES["sigint_while_transcribing"]
    got = CliRunner().invoke(main, ["run", str(corpus / case["file"]), "--out", str(out),
                                    "--config", str(corpus / "cheap.toml")])
    assert got.exit_code == 143, got.stderr
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clipper: stopped (SIGTERM)"), got.stderr
    assert not (out / "manifest.json").exists()
    monkeypatch.setattr(Pipeline, "probe", real_probe)
    again = CliRunner().invoke(main, ["run", str(corpus / case["file"]), "--out", str(out),
                                      "--config", str(corpus / "cheap.toml")])
    assert again.exit_code == 0, again.stderr     # the request went with that command


def _essence(manifest: dict) -> list[tuple]:
    return [(c["id"], c["kind"], tuple(c["tags"]), c["start"], c["end"], c["text"]) for c in manifest["clips"]]


def test_killed_and_interrupted_at_random_points_resumes_to_the_same_manifest(corpus, tmp_path):
    """Ten runs of one output folder, SIGKILL and Ctrl-C in turn at random moments (seeded),
    then a run to the end: the same manifest as an uninterrupted run, and no stray files.

    Each signal is sent a random moment after the run reaches a step (its start-up, its
    transcription, a pass of the walk, a clip's render, its end), in turn: a resumed run skips
    what is saved, so a moment drawn from an uninterrupted run's length would mostly land after
    it had finished. A run that ends before its step (a step already saved) is left to end and
    its signal is not sent: what is counted and checked is the signals that stopped a run (with
    this seed three kills and three interrupts; at least two of each)."""
    import random
    import time

    src, cfg = str(corpus / "s12.mp4"), str(corpus / "cheap.toml")
    # The uninterrupted run: in this process (the model is loaded already), as the final run is.
    ref = CliRunner().invoke(main, ["run", src, "--out", str(tmp_path / "ref"), "--config", cfg])
    assert ref.exit_code == 0, ref.output + ref.stderr
    expected = _essence(json.loads((tmp_path / "ref" / "manifest.json").read_text()))
    assert expected

    out = tmp_path / "out"
    rng = random.Random(1129)
    steps = [None, "transcribing (", "pass over", "rendering c", "rendering "]   # None: start-up
    stages = []
    stopped = {signal.SIGKILL: 0, signal.SIGINT: 0}
    for i in range(10):
        sig = signal.SIGKILL if i % 2 == 0 else signal.SIGINT
        proc = _clipper("-v", "run", src, "--out", str(out), "--config", cfg, cwd=tmp_path)
        lines: list[str] = []
        reader = threading.Thread(target=lambda p=proc, got=lines: got.extend(p.stderr), daemon=True)
        reader.start()
        step = steps[i % len(steps)]
        deadline = time.monotonic() + 120
        while step and proc.poll() is None and time.monotonic() < deadline \
                and not any(step in ln for ln in list(lines)):
            time.sleep(0.02)
        # At start-up: once the interpreter runs (a signal before that meets Python's own
        # start-up, not clipper; the command line's first lines install its handlers).
        time.sleep(rng.uniform(0.2, 0.6) if step is None else rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=120)
        reader.join(timeout=30)
        proc.stdout.close()
        err = "".join(lines)
        assert "Traceback" not in err, err
        # -SIGINT: the signal came while no Python code could handle it: before the interpreter
        # started ours, or after the run had finished, while the interpreter was shutting down
        # (it restores the default action then). A shell reports that as 130 too.
        allowed = (0, -signal.SIGKILL) if sig == signal.SIGKILL else (0, 130, -signal.SIGINT)
        assert proc.returncode in allowed, (proc.returncode, err)
        stopped[sig] += proc.returncode != 0
        # The last step it logged: a progress line ("transcribing (tiny.en)…"), or the walk's
        # work between two of them (a pass over the windows heard, a clip being rendered).
        logged = [ln.split(": ", 1)[-1].strip() for ln in err.splitlines()
                  if "clipper" in ln and ("…" in ln or "pass over" in ln or "rendering c" in ln)]
        stages.append(re.sub(r"^(pass over|rendering c).*", r"\1", logged[-1]) if logged else "start-up")
    final = CliRunner().invoke(main, ["run", src, "--out", str(out), "--config", cfg])
    assert final.exit_code == 0, final.output + final.stderr
    got = json.loads((out / "manifest.json").read_text())
    assert _essence(got) == expected
    ids = {c["id"] for c in got["clips"]}
    assert {p.stem for p in (out / "clips").iterdir()} == ids, "only the manifest's clips, nothing partial"
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".part")) or p.name.startswith(".c0")]
    assert len(set(stages)) >= 3, stages     # the signals landed in different stages
    assert min(stopped.values()) >= 2, stopped
    print(f"| killed x5 + interrupted x5 at random points | same manifest as an uninterrupted run | "
          f"same manifest; signals landed in: {', '.join(sorted(set(stages)))} |")
