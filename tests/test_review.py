"""The review page and review decisions.

The page is driven in a real headless browser (Debian's chromium through Playwright) against
the real server on a copy of the sample run; re-rendering is real ffmpeg. The HTTP tests talk
to the same server over a socket.
"""

from __future__ import annotations

import http.client
import json
import shutil
import threading
from pathlib import Path

import pytest

from clipper.config import load_config
from clipper.errors import ReviewConflict, ReviewError
from clipper.pipeline import Pipeline, load_run
from clipper.review import ReviewStore, apply_review, clip_bounds
from clipper.review.server import make_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "tests" / "output"


@pytest.fixture()
def run_copy(sample_run, tmp_path) -> Path:
    """A private copy of the sample run (review and re-render change it)."""
    dest = tmp_path / "run"
    shutil.copytree(sample_run.out_dir, dest, symlinks=True)
    return dest


def _config(run_dir: Path):
    return lambda: load_config(base=load_run(run_dir).config)


@pytest.fixture()
def server(run_copy):
    srv, app, url = make_server(run_copy, _config(run_copy), port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, app, url
    srv.shutdown()
    srv.server_close()


def _request(srv, method, path, body=None, headers=None, raw: bytes | None = None):
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    h = {"X-Clipper": "1", "Content-Type": "application/json"} | (headers or {})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=h)
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    try:
        return res.status, json.loads(payload) if payload else None
    except ValueError:
        return res.status, payload


# -- decisions (pure) ----------------------------------------------------------------------
def test_decisions_apply_to_the_plan(sample_run, tmp_path):
    saved = load_run(sample_run.out_dir)
    sents = saved.sentences.sentences
    words = saved.transcript.words
    a, b = saved.plan.clips[0], saved.plan.clips[1]
    ba = clip_bounds(a, sents)
    store = ReviewStore(tmp_path)
    texts = [w.text for w in words]
    store.update(ba, 0, {"last_word": ba.last_word - 1, "corrections": {ba.first_word + 1: "FIXED"},
                         "title": "Linen {50% off}"}, texts)
    store.update(clip_bounds(b, sents), 0, {"state": "rejected"}, texts)
    decisions = store.load()
    assert decisions[a.id].state == "edited" and decisions[a.id].edits == ["end", "title", "words"]

    out = apply_review(saved.plan, decisions, saved.transcript, sents, saved.shots.cuts, load_config().plan)
    ids = [c.id for c in out.plan.clips]
    assert b.id not in ids and out.rejected[0]["id"] == b.id
    edited = out.plan.clips[0]
    assert edited.last_word == ba.last_word - 1 and edited.title == "Linen {50% off}"
    # The new end lies after the new last word, before the dropped one starts (in the pause).
    assert words[ba.last_word - 1].end <= edited.end <= words[ba.last_word].start + 1e-6
    assert "FIXED" in edited.text and [(i, t.strip()) for i, t in edited.corrections] == [(ba.first_word + 1, "FIXED")]
    assert out.review[a.id] == {"state": "edited", "edited": ["end", "title", "words"], "waiting": [], "rev": 1}

    # approved_only: the edits wait until the clip is approved; the rejection applies anyway.
    waiting = apply_review(saved.plan, decisions, saved.transcript, sents, saved.shots.cuts, load_config().plan,
                           approved_only=True)
    assert waiting.plan.clips[0] == a and waiting.review[a.id]["waiting"] == ["end", "title", "words"]
    assert b.id not in [c.id for c in waiting.plan.clips]


def test_store_refuses_stale_revisions_and_bad_changes(sample_run, tmp_path):
    saved = load_run(sample_run.out_dir)
    clip = saved.plan.clips[0]
    bounds = clip_bounds(clip, saved.sentences.sentences)
    texts = [w.text for w in saved.transcript.words]
    one, two = ReviewStore(tmp_path), ReviewStore(tmp_path)    # two processes' views of one file
    one.update(bounds, 0, {"state": "approved"}, texts)
    with pytest.raises(ReviewConflict) as lost:
        two.update(bounds, 0, {"state": "rejected"}, texts)
    assert lost.value.current["state"] == "approved" and lost.value.current["rev"] == 1
    before = (tmp_path / "review.json").read_bytes()
    for bad in ({"first_word": len(texts)}, {"first_word": bounds.last_word + 1},
                {"corrections": {"-3": "x"}}, {"corrections": {str(bounds.first_word): "a\nb"}},
                {"title": "x" * 500}, {"state": "maybe"}, {"colour": "red"}, {"first_word": "3"}):
        with pytest.raises(ReviewError):
            two.update(bounds, 1, bad, texts)
    assert (tmp_path / "review.json").read_bytes() == before      # nothing written
    # Correcting a word back to what was heard removes the correction.
    i = bounds.first_word
    two.update(bounds, 1, {"corrections": {i: "zzz"}}, texts)
    assert two.load()[clip.id].corrections == ((i, texts[i][:len(texts[i]) - len(texts[i].lstrip())] + "zzz"),)
    two.update(bounds, 2, {"corrections": {i: texts[i].strip()}}, texts)
    assert two.load()[clip.id].corrections == ()


# -- the server over HTTP ------------------------------------------------------------------
def test_two_tabs_editing_one_clip(server):
    srv, app, _ = server
    status, data = _request(srv, "GET", "/api/clips")
    clip = data["clips"][0]
    results = []

    def tab(state):
        results.append(_request(srv, "POST", f"/api/clips/{clip['id']}",
                                {"rev": clip["rev"], "changes": {"state": state}}))

    threads = [threading.Thread(target=tab, args=(s,)) for s in ("approved", "rejected") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [d for s, d in results if s == 200]
    losses = [d for s, d in results if s == 409]
    assert len(wins) == 1 and len(losses) == 7
    # Every loser is told what is saved now, which is the winner's change.
    assert all(d["clip"]["state"] == wins[0]["state"] and d["clip"]["rev"] == 1 for d in losses)
    saved = json.loads((app.root / "review.json").read_text())
    assert saved["clips"][clip["id"]]["state"] == wins[0]["state"]


def test_security_and_validation(run_copy, server):
    srv, app, _ = server
    (run_copy / "clips" / "escape.mp4").symlink_to("/etc/passwd")
    for path in ("/files/../manifest.json", "/files/..%2fmanifest.json", "/files/clips%2f..%2f..%2fetc%2fpasswd",
                 "/files/%2e%2e/%2e%2e/etc/passwd", "/files/.clipper/config.json", "/files/review.json/../x",
                 "/files/clips/escape.mp4", "/files//etc/passwd", "/static/../server.py", "/nothing"):
        status, _ = _request(srv, "GET", path)
        assert status == 404, path
    assert _request(srv, "GET", "/files/manifest.json")[0] == 200
    clip = _request(srv, "GET", "/api/clips")[1]["clips"][0]
    n_words = len(load_run(run_copy).transcript.words)
    cases = [
        ({"raw": b"{not json"}, 400), ({"body": {"rev": 0}}, 400), ({"body": [1, 2]}, 400),
        ({"body": {"rev": 0, "changes": {"first_word": n_words + 5}}}, 400),
        ({"body": {"rev": 0, "changes": {"corrections": {"abc": "x"}}}}, 400),
        ({"body": {"rev": 0, "changes": {"state": "approved"}}, "headers": {"X-Clipper": ""}}, 403),
        ({"body": {"rev": 0, "changes": {"state": "approved"}}, "headers": {"Content-Type": "text/plain"}}, 415),
        ({"body": {"rev": 0, "changes": {"state": "approved"}}, "headers": {"Host": "evil.example:80"}}, 403),
        ({"raw": b"{" + b" " * 70000 + b"}"}, 413),
    ]
    for case, want in cases:
        status, data = _request(srv, "POST", f"/api/clips/{clip['id']}", case.get("body"),
                                case.get("headers"), case.get("raw"))
        assert status == want, (case, data)
        assert "error" in data
    assert _request(srv, "POST", "/api/clips/c999", {"rev": 0, "changes": {}})[0] == 404
    assert not (run_copy / "review.json").exists()       # nothing was written by any of them

    # Range requests: the player seeks.
    status, body = _request(srv, "GET", clip["render"]["file"].split("?")[0], headers={"Range": "bytes=10-19"})
    assert status == 206 and len(body) == 10
    assert body == (run_copy / "clips" / f"{clip['id']}.mp4").read_bytes()[10:20]


def test_a_public_bind_needs_the_token(run_copy):
    srv, _, url = make_server(run_copy, _config(run_copy), host="0.0.0.0", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        token = url.split("token=")[1]
        assert len(token) >= 20
        for path in ("/", "/api/clips", "/files/manifest.json"):
            assert _request(srv, "GET", path)[0] == 401
        assert _request(srv, "GET", "/api/clips", headers={"X-Clipper-Token": "wrong"})[0] == 401
        assert _request(srv, "POST", "/api/clips/c001", {"rev": 0, "changes": {"state": "approved"}})[0] == 401
        assert _request(srv, "GET", "/api/clips", headers={"X-Clipper-Token": token})[0] == 200
        assert _request(srv, "GET", f"/files/manifest.json?token={token}")[0] == 200
    finally:
        srv.shutdown()
        srv.server_close()


# -- the page in a real browser ------------------------------------------------------------
@pytest.mark.slow
def test_review_in_the_browser_then_rerender(run_copy, server, sample_run):
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    srv, app, url = server
    before = json.loads((run_copy / "manifest.json").read_text())
    first, second = before["clips"][0], before["clips"][1]
    third_mtime = {c["id"]: (run_copy / c["file"]).stat().st_mtime_ns for c in before["clips"][2:]}
    view = app.view.clip(first["id"])
    fix = next(w for w in view["words"][len(view["words"]) // 2:] if view["first_word"] <= w["i"] <= view["last_word"]
               and w["text"].strip().isalpha())
    OUTPUT.mkdir(parents=True, exist_ok=True)

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_selector(f'.card[data-id="{first["id"]}"].current')
        # Move the end one word earlier (keyboard), correct a word (click, type, Enter), approve.
        page.keyboard.press("o")
        page.wait_for_selector("#state:text('edited')")
        page.click(f'#words .w[data-i="{fix["i"]}"]')
        page.fill("#words input", "CORRECTED")
        page.keyboard.press("Enter")
        page.wait_for_selector(f'#words .w.fixed[data-i="{fix["i"]}"]')
        page.keyboard.press("a")
        page.wait_for_selector("#state:text('approved')")
        # Next clip: reject it with the button.
        page.keyboard.press("j")
        page.wait_for_selector(f'.card[data-id="{second["id"]}"].current')
        page.click("#reject")
        page.wait_for_selector("#state:text('rejected')")

        page.reload()                                   # everything was saved at once
        page.wait_for_selector(f'.card[data-id="{first["id"]}"].approved')
        page.wait_for_selector(f'.card[data-id="{second["id"]}"].rejected')
        assert page.inner_text(f'#words .w[data-i="{fix["i"]}"]').strip() == "CORRECTED"
        assert app.view.clip(first["id"])["last_word"] == view["last_word"] - 1
        page.screenshot(path=str(OUTPUT / "review-page.png"))

        page.click("#render")                           # re-render what the review changed
        page.wait_for_selector("body[data-renders='1']", timeout=120_000)
        page.wait_for_selector(f'.card[data-id="{first["id"]}"].approved')
        page.screenshot(path=str(OUTPUT / "review-page-after-render.png"))
        browser.close()
    assert not app.job.error

    after = json.loads((run_copy / "manifest.json").read_text())
    clips = {c["id"]: c for c in after["clips"]}
    assert second["id"] not in clips and [r["id"] for r in after["rejected"]] == [second["id"]]
    assert not list((run_copy / "clips").glob(f"{second['id']}.*"))
    edited = clips[first["id"]]
    assert edited["review"] == {"state": "approved", "edited": ["end", "words"], "waiting": [], "rev": 3}
    words = load_run(run_copy).transcript.words
    dropped = words[view["last_word"]]
    assert edited["end"] < first["end"] and edited["end"] <= dropped.start + 1e-6
    assert abs(edited["duration"] - (edited["end"] - edited["start"])) < 0.1
    import pysubs2

    cues = pysubs2.load(str(run_copy / edited["subtitles"]))
    assert "CORRECTED" in " ".join(c.plaintext for c in cues)
    assert not cues[-1].plaintext.strip().endswith(dropped.text.strip())    # the dropped word is gone
    assert cues[-1].end / 1000 <= edited["duration"] + 0.05
    for cid, mtime in third_mtime.items():                # untouched clips were not encoded again
        assert (run_copy / clips[cid]["file"]).stat().st_mtime_ns == mtime

    # The CLI re-render and a whole new run on the folder keep every decision and encode nothing.
    from click.testing import CliRunner

    from clipper.cli import main

    res = CliRunner().invoke(main, ["render", str(run_copy), "--approved"])
    assert res.exit_code == 0, res.output
    assert f"reused: {len(clips)} clips" in res.output and "1 rejected" in res.output
    rerun = Pipeline(load_config(base=load_run(run_copy).config)).run(sample_run.media.path, run_copy)
    assert [c["id"] for c in rerun.manifest["clips"]] == list(clips)
    assert rerun.manifest["clips"][0]["end"] == edited["end"] and rerun.reused[-1] == f"{len(clips)} clips"
