"""A run stopped at any point resumes from its journal and ends with the manifest an
uninterrupted run writes; and clips are published while the source is still being heard.

Real Whisper (tiny.en) on 56 s of the sample (10-66 s: two products, two clips, no greeting)
under a small test picture, heard in windows of at most 30 s (the least clipper allows; they end
at quiet points: three windows here, the first clip settled after the second and the second
after the third), so a run has several windows, passes and published clips to be stopped between.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SMALL_RENDER, test_picture_stream

from clipper import Pipeline, load_config
from clipper.errors import Interrupted

FROM, SECONDS = 10.0, 56.0


@pytest.fixture(scope="module")
def stream(sample_stream, tmp_path_factory) -> Path:
    return test_picture_stream(sample_stream, tmp_path_factory.mktemp("resume") / "stream.mp4", FROM, SECONDS)


@pytest.fixture(scope="module")
def config():
    # What is compared is the plan and the files, not the pictures.
    return load_config(overrides={"transcribe": {"model": "tiny.en", "chunk_seconds": 30},
                                  "render": {**SMALL_RENDER, "jobs": 1}})


class Counter:
    """should_stop that says yes at its ``stop_at``-th call (every checkpoint is one call)."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls, self.stop_at = 0, stop_at

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls == self.stop_at


def clips_of(manifest: dict) -> list[tuple]:
    return [(c["id"], c["start"], c["end"], c["text"], c["kind"], tuple(c["tags"]), c["product"], c["take"])
            for c in manifest["clips"]]


@pytest.fixture(scope="module")
def uninterrupted(stream, config, tmp_path_factory):
    counter = Counter()
    out = tmp_path_factory.mktemp("whole") / "out"
    result = Pipeline(config, should_stop=counter).run(stream, out)
    return result, counter.calls, out


def test_clips_are_published_before_the_source_is_heard_to_its_end(uninterrupted):
    result, _, out = uninterrupted
    journal = [json.loads(line) for line in (out / ".clipper" / "journal.jsonl").read_text().splitlines()]
    windows = [r for r in journal if "window" in r]
    passes = [r["pass"] for r in journal if "pass" in r]
    assert len(windows) >= 3
    assert len(result.plan.clips) >= 2, "clips to be stopped between"
    early = [c for p in passes if not p["final"] and p["after"] < len(windows) for c in p["clips"]]
    assert early, "a clip was settled and handed to rendering before the last window was heard"
    assert [c["id"] for p in passes for c in p["clips"]] == [c.id for c in result.plan.clips]
    assert 0 < result.timings["first_clip"] < result.timings["total"]


@pytest.mark.parametrize("where", [0.15, 0.5, 0.85])
def test_a_run_stopped_anywhere_resumes_to_the_same_manifest(uninterrupted, stream, config, tmp_path, where):
    result, calls, _ = uninterrupted
    out = tmp_path / "out"
    with pytest.raises(Interrupted):
        Pipeline(config, should_stop=Counter(max(1, int(calls * where)))).run(stream, out)
    again = Pipeline(config).run(stream, out)
    assert clips_of(again.manifest) == clips_of(result.manifest)
    files = sorted(p.name for p in (out / "clips").iterdir())
    assert files == sorted(p.name for p in (result.out_dir / "clips").iterdir()), "no clip twice, none missing"
