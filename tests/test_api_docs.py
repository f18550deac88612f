"""docs/api.md runs: every ```python block, in order, in one namespace, on the bundled sample.

The doc's first block names SOURCE and OUT; the test then points them at the sample stream and
at a copy of the session's sample run, whose work folder holds the transcript, segmentation,
scene cuts and rendered clips. The doc's own config is the session run's (tiny.en, two render
jobs), so its ``Pipeline.run`` takes everything from the work folder and renders nothing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import clipper

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)

pytestmark = pytest.mark.slow


def python_blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


@pytest.fixture
def run_copy(sample_run, tmp_path, monkeypatch):
    """A copy of the sample run (work folder included) and a scratch working directory."""
    out = tmp_path / "out" / "run 1120"
    shutil.copytree(sample_run.out_dir, out)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)   # the doc writes script.jsonl and team.toml to the current folder
    return out


def test_every_python_block_of_the_api_guide_runs(sample_stream, run_copy, sample_run):
    text = DOC.read_text(encoding="utf-8")
    blocks = python_blocks(text)
    assert len(blocks) >= 8 and text.count("```python") == len(blocks)
    assert "## Review decisions and re-rendering" in text
    ns: dict = {"__name__": "api_docs"}
    for n, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/api.md, python block {n}", "exec"), ns)  # noqa: S102
        if n == 1:
            assert isinstance(ns["SOURCE"], Path) and isinstance(ns["OUT"], Path)
            ns["SOURCE"], ns["OUT"] = sample_stream, run_copy
    # The run block ran for real, on the copy, and took every stage from its work folder.
    result = ns["result"]
    assert result.out_dir == run_copy and "transcript" in result.reused and "segments" in result.reused
    assert f"{len(sample_run.clips)} clips" in result.reused   # no clip rendered again
    assert [c.id for c in result.clips] == [c.id for c in sample_run.clips]
    assert result.manifest["clips"] == sample_run.manifest["clips"]
    # The filters found what the sample has: fabric everywhere, three products.
    assert ns["fabric"] and set(ns["by_product"]) == {c.product for c in sample_run.plan.clips}
    # The remix preview exists with its sidecars, at the preview size.
    remix_file = run_copy / "remix" / "fabric preview.mp4"
    assert remix_file.is_file() and remix_file.with_suffix(".srt").is_file()
    assert len(ns["summary"]["clips"]) >= 1 and ns["summary"]["width"] == 540
    # The script was labelled, one line per sentence.
    labels = Path("script.labels.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(labels) == 3 and '"label": "PROMO"' in labels[1]
    # Settings: preset, then team file, then overrides.
    team = ns["team"]
    assert team.plan.max_seconds == 45 and team.render.karaoke and team.render.margin_v == 420
    if "timeline" in ns:
        assert ns["timeline"].is_file()
    # Review from code: the approved edit was rendered, the rejected clip left, the preset applied.
    reviewed = ns["reviewed"].manifest
    first = sample_run.manifest["clips"][0]
    assert reviewed["clips"][0]["review"]["state"] == "approved"
    assert reviewed["clips"][0]["title"] == "Washed linen {50% off}"
    assert reviewed["clips"][0]["end"] < first["end"]
    assert [c["id"] for c in reviewed["rejected"]] == [sample_run.manifest["clips"][1]["id"]]
    again = ns["again"]
    assert (again.clips[0].width, again.clips[0].height) == (1080, 1080)
    assert again.clips[1].height == 1920            # not in `only`: kept as it was


def test_package_docstring_example_runs(sample_stream, run_copy, sample_run, capsys):
    """clipper/__init__.py's example, with its paths and config pointed at the sample run."""
    code = "\n".join(line[4:] for line in clipper.__doc__.splitlines() if line.startswith("    "))
    subs = {'"stream.mp4"': repr(str(sample_stream)), '"out/"': repr(str(run_copy)),
            "load_config()": "load_config(overrides=FAST)"}
    for old, new in subs.items():
        assert old in code, old
        code = code.replace(old, new)
    exec(compile(code, "clipper/__init__.py docstring", "exec"),  # noqa: S102
         {"FAST": {"transcribe": {"model": "tiny.en"}, "render": {"jobs": 2, "preset": "ultrafast"}}})
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == [c["id"] for c in sample_run.manifest["clips"]]
    assert all("selling_point" in line for line in printed)
