"""Language-model backends: reply validation, windows, retries, fallback, caching.

The openai backend is tested against a small stand-in server on 127.0.0.1 that speaks the
OpenAI chat-completions protocol (no real LLM server installs here without compiling
llama.cpp). It is a fake at the network boundary, and it says so: it answers with the
labels of clipper's own rules backend, and it can be told to fail in scripted ways.
The transformers backend runs for real with the packaged SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from clipper.config import load_category, load_config, load_cues
from clipper.errors import ModelError, SegmentationError
from clipper.segment.base import Item, classify_items
from clipper.segment.llm import parse_reply, windows
from clipper.segment.rules import RulesClassifier
from clipper.types import Label

APPAREL = load_category("apparel")
TAGS = list(APPAREL.tags)
ITEMS = [Item("a", "Hi everyone, welcome to the live room!", "1"),
         Item("b", "The fabric is pure linen, light and breathable.", "1"),
         Item("c", "The drape is lovely, it falls straight.", "1"),
         Item("d", "Link is up, only 29 dollars tonight.", "1"),
         Item("e", "Next up are our high waist jeans, the fit is slim.", "2"),
         Item("f", "Thanks for the follow, Sarah!", "2")]


# -- pure parts ----------------------------------------------------------------------------
def test_valid_reply_is_parsed_and_labels_normalised():
    reply = 'Sure! {"items": [{"id": 1, "label": "selling point", "tags": ["fabric"]}, {"id": 2, "label": "PROMO"}]}'
    assert parse_reply(reply, [1, 2], TAGS) == {1: (Label.SELLING_POINT, ("fabric",)), 2: (Label.PROMO, ())}


@pytest.mark.parametrize("reply,why", [
    ("I think they are all selling points.", "no JSON"),
    ('{"items": [{"id": 1, "label": "SELLING_POINT"', "no JSON"),
    ('{"items": [{"id": 1, "label": "HIGHLIGHT"}, {"id": 2, "label": "PROMO"}]}', "schema"),
    ('{"items": [{"id": 1, "label": "PROMO", "tags": ["sparkle"]}, {"id": 2, "label": "PROMO"}]}', "schema"),
    ('{"items": [{"id": 1, "label": "PROMO"}]}', "missing"),
    ('{"items": [{"id": "1", "label": "PROMO"}, {"id": 2, "label": "PROMO"}]}', "schema"),
])
def test_invalid_replies_are_refused_with_a_reason(reply, why):
    with pytest.raises(ValueError, match=why):
        parse_reply(reply, [1, 2], TAGS)


def test_windows_cover_everything_with_overlap():
    assert windows(10, 4, 1) == [(0, 4), (3, 7), (6, 10)]
    assert windows(3, 24, 4) == [(0, 3)]


# -- the stand-in OpenAI-compatible server ------------------------------------------------
class StandIn:
    """Chat-completions on 127.0.0.1; answers with the rules backend's labels."""

    def __init__(self, script: list[str] | None = None):
        self.requests: list[dict] = []
        self.script = list(script or [])   # per request: "503", "garbage", "drop-last" or "ok"
        rules = RulesClassifier(APPAREL, load_cues())
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                action = outer.script.pop(0) if outer.script else "ok"
                if action == "no-schema" and body.get("response_format", {}).get("type") == "json_schema":
                    self.send_response(400)   # a server without structured outputs, as vLLM/llama.cpp word it
                    self.end_headers()
                    self.wfile.write(b'{"error": "response_format type json_schema is not supported"}')
                    return
                if action == "503":
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"busy")
                    return
                prompt = body["messages"][1]["content"]
                numbered = re.findall(r"^\[(\d+)\] (.*)$", prompt.split("Sentences:")[1], re.M)
                segs = rules.classify([Item(n, text, "p") for n, text in numbered])
                items = [{"id": int(n), "label": s.label.value, "tags": list(s.tags)} for (n, _), s in zip(numbered, segs)]
                if action == "drop-last":
                    items = items[:-1]
                content = "no idea, sorry" if action == "garbage" else json.dumps({"items": items})
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def standin():
    servers = []

    def start(script=None):
        servers.append(StandIn(script))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def openai_cfg(url, tmp_path, monkeypatch, **llm):
    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test-123")
    return load_config(overrides={"segment": {
        "backend": "openai", "llm": {"window": 4, "overlap": 1, "combine": False, **llm},
        "openai": {"base_url": url, "model": "stand-in", "api_key_env": "TEST_LLM_KEY", "retries": 2,
                   "timeout": 5}}}).segment


def test_openai_backend_labels_every_sentence(standin, tmp_path, monkeypatch):
    server = standin()
    segments, fallbacks = classify_items(ITEMS, openai_cfg(server.url, tmp_path, monkeypatch), APPAREL)
    assert [s.label for s in segments] == [Label.CHATTER, Label.SELLING_POINT, Label.SELLING_POINT,
                                           Label.PROMO, Label.SELLING_POINT, Label.CHATTER]
    assert fallbacks == [] and all(s.backend.startswith("openai:") for s in segments)
    assert [s.product for s in segments] == [1, 1, 1, 1, 2, 2]
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test-123"
    assert first["body"]["model"] == "stand-in"
    # The reply is constrained to the schema: exactly the window's ids, known labels and tags.
    fmt = first["body"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    item = fmt["json_schema"]["schema"]["properties"]["items"]
    assert item["minItems"] == item["maxItems"] == 4
    assert item["items"]["properties"]["id"]["enum"] == [1, 2, 3, 4]
    assert set(item["items"]["properties"]["tags"]["items"]["enum"]) == set(TAGS) | {"other"}
    assert len(server.requests) == 2  # 6 sentences in windows of 4 overlapping by 1


def test_a_server_without_structured_outputs_is_asked_with_a_weaker_format(standin, tmp_path, monkeypatch):
    server = standin(["no-schema"])
    segments, fallbacks = classify_items(ITEMS, openai_cfg(server.url, tmp_path, monkeypatch), APPAREL)
    assert not fallbacks and len(segments) == len(ITEMS)
    formats = [r["body"].get("response_format", {}).get("type") for r in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]   # the weaker one is kept


def test_transport_errors_are_retried_and_bad_replies_retried_then_fall_back(standin, tmp_path, monkeypatch):
    # window 1: 503 (transport retry), then a reply missing an id (retried, told why), then ok.
    # window 2: garbage twice: falls back to rules, and says so.
    server = standin(["503", "drop-last", "ok", "garbage", "garbage"])
    segments, fallbacks = classify_items(ITEMS, openai_cfg(server.url, tmp_path, monkeypatch, retries=1), APPAREL)
    # "d" sits on the edge of both windows (a tie): the first window, which answered, labels it.
    assert [s.backend.split(":")[0] for s in segments] == ["openai"] * 4 + ["rules-fallback"] * 2
    assert len(fallbacks) == 1 and fallbacks[0]["first"] == "d" and "no JSON" in fallbacks[0]["reason"]
    retry = server.requests[2]["body"]["messages"]
    assert retry[-1]["role"] == "user" and "ids missing" in retry[-1]["content"]


def test_replies_are_cached_so_a_rerun_costs_nothing(standin, tmp_path, monkeypatch):
    server = standin()
    cfg = openai_cfg(server.url, tmp_path, monkeypatch)
    first, _ = classify_items(ITEMS, cfg, APPAREL)
    asked = len(server.requests)
    again, _ = classify_items(ITEMS, cfg, APPAREL)
    assert len(server.requests) == asked and again == first


def test_unreachable_server_is_a_clear_error(tmp_path, monkeypatch):
    cfg = openai_cfg("http://127.0.0.1:9/v1", tmp_path, monkeypatch)  # port 9: discard, nothing listens
    cfg = cfg.model_copy(update={"openai": cfg.openai.model_copy(update={"retries": 0})})
    with pytest.raises(SegmentationError, match="cannot reach http://127.0.0.1:9/v1/chat/completions"):
        classify_items(ITEMS, cfg, APPAREL)


# -- the transformers backend, for real ---------------------------------------------------
@pytest.fixture(scope="module")
def smollm2(tmp_path_factory):
    """SmolLM2 loaded once for the module's tests (a load takes seconds), from the packaged
    file: its tokenizer is made from the GGUF and saved under the cache folder returned."""
    pytest.importorskip("transformers")
    from clipper.segment.base import _load_chat, _transformers_chat

    cache = tmp_path_factory.mktemp("smollm2 cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLIPPER_CACHE", str(cache))
        _load_chat.cache_clear()     # made here from the file, whatever this worker loaded before
        cfg = load_config(overrides={"segment": {"transformers": {"model": "smollm2"}}}).segment
        chat = _transformers_chat(cfg.transformers)
    yield cache, chat
    _load_chat.cache_clear()


@pytest.mark.slow
def test_transformers_backend_with_packaged_smollm2(smollm2, tmp_path, monkeypatch):
    cache, chat = smollm2
    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    cfg = load_config(overrides={"segment": {
        "backend": "transformers", "llm": {"window": 3, "overlap": 0, "retries": 0, "combine": False},
        "transformers": {"model": "smollm2", "max_new_tokens": 48, "mode": "generate"}}}).segment

    # The tokenizer made from the GGUF file is saved under the cache, and the saved one reads
    # back the same: the same tokens for a chat, the same template.
    from transformers import AutoTokenizer

    from clipper.segment.base import _transformers_chat
    from clipper.segment.local_model import _load_tokenizer, resolve

    assert _transformers_chat(cfg.transformers) is chat, "one load serves both modes"
    saved = list((cache / "tokenizers").iterdir())
    assert len(saved) == 1 and (saved[0] / "tokenizer_config.json").is_file()
    monkeypatch.setenv("CLIPPER_CACHE", str(cache))
    again = _load_tokenizer(AutoTokenizer, *resolve(cfg.transformers), {})
    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    messages = [{"role": "user", "content": "面料是100%亚麻, the fabric is pure linen."}]
    assert again.apply_chat_template(messages, add_generation_prompt=True) == \
        chat.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    assert again("价格 99 元 linen")["input_ids"] == chat.tokenizer("价格 99 元 linen")["input_ids"]

    segments, fallbacks = classify_items(ITEMS[:3], cfg, APPAREL)
    assert len(segments) == 3 and all(isinstance(s.label, Label) for s in segments)
    for s in segments:
        assert s.backend in ("transformers:smollm2", "rules-fallback")
        assert set(s.tags) <= set(TAGS) | {"other"}
        assert bool(s.tags) == (s.label is Label.SELLING_POINT)
    # A 135M model rarely manages the format: when it does not, the window is recorded as a fallback.
    assert len(fallbacks) == sum(1 for s in segments if s.backend == "rules-fallback") // 3
    replies = list((tmp_path / "cache" / "llm-replies").rglob("*.json"))
    assert len(replies) >= 1  # every attempt was cached


@pytest.mark.slow
def test_transformers_scoring_cannot_be_malformed_and_combines_with_embed(smollm2, tmp_path, monkeypatch):
    """Score mode: the packaged SmolLM2 scores each allowed label and tag; it is weak (135M, English)
    but its answer is always valid, and combined with the trained backend each sentence says who decided."""
    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    alone = load_config(overrides={"segment": {"backend": "transformers", "llm": {"combine": False},
                                               "transformers": {"model": "smollm2", "mode": "score"}}}).segment
    # The prompt's key/value cache is reused for the candidates: the same numbers as scoring
    # each full sequence from scratch.
    import torch

    from clipper.segment.base import _transformers_chat

    chat = _transformers_chat(alone.transformers)
    assert chat is smollm2[1]
    prompt, options = "The fabric is pure linen. This sentence is a", [" selling point", " promotion", " chat"]
    head = chat.tokenizer(chat.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                             add_generation_prompt=True, tokenize=False),
                          return_tensors="pt").input_ids[0]
    naive = []
    for option in options:
        tail = chat.tokenizer(option, add_special_tokens=False, return_tensors="pt").input_ids[0]
        with torch.no_grad():
            logp = chat.model(input_ids=torch.cat([head, tail])[None]).logits[0].float().log_softmax(-1)
        naive.append(float(sum(logp[len(head) - 1 + j, t] for j, t in enumerate(tail)) / len(tail)))
    assert chat.score(prompt, options) == pytest.approx(naive, abs=1e-3)

    items = ITEMS[2:5]
    segments, fallbacks = classify_items(items, alone, APPAREL)
    assert fallbacks == [] and all(s.backend == "transformers:smollm2" for s in segments)
    for s in segments:
        assert isinstance(s.label, Label) and set(s.tags) <= set(TAGS) | {"other"}
        assert bool(s.tags) == (s.label is Label.SELLING_POINT) and 0.33 <= s.score <= 1
    assert list((tmp_path / "cache" / "llm-replies").rglob("*.json"))   # scores are cached
    both = alone.model_copy(update={"llm": alone.llm.model_copy(update={"combine": True})})
    combined, _ = classify_items(items, both, APPAREL)
    embed_only, _ = classify_items(items, alone.model_copy(update={"backend": "embed"}), APPAREL)
    for c, m, e in zip(combined, segments, embed_only):
        # Who decided is recorded, and it is the one whose label was kept.
        assert c.backend in ("embed", "transformers:smollm2", "embed+transformers:smollm2")
        if c.backend == "embed+transformers:smollm2":
            assert c.label is m.label is e.label
        elif c.backend == "embed":
            assert c.label is e.label and c.label is not m.label
        else:
            assert c.label is m.label and c.label is not e.label
        assert c.product == e.product


def test_transformers_unknown_model_fails_in_one_line(monkeypatch):
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = load_config(overrides={"segment": {"backend": "transformers",
                                             "transformers": {"model": "nobody/no-such-model"}}}).segment
    with pytest.raises(ModelError, match="cannot load language model 'nobody/no-such-model'"):
        classify_items(ITEMS, cfg, APPAREL)


@pytest.mark.slow
def test_run_with_the_openai_backend(standin, sample_run, tmp_path, monkeypatch):

    from clipper import Pipeline
    from clipper.transcribe.models import cache_dir

    server = standin()
    # A cache of its own, so that every reply is asked of the stand-in; the sentence vectors
    # the session's runs already embedded are copied into it (embedding is not the point).
    # (sqlite's backup: a consistent copy while another worker may be writing to it.)
    (tmp_path / "cache").mkdir()
    if (cache_dir() / "embeddings.sqlite").is_file():
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(cache_dir() / "embeddings.sqlite")) as src, \
                closing(sqlite3.connect(tmp_path / "cache" / "embeddings.sqlite")) as dst:
            src.backup(dst)
    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    # A copy of the session's sample run: the transcript is reused, segmentation is the point here.
    shutil.copytree(sample_run.out_dir, tmp_path / "out")
    # The clips are rendered small and plain (what they look like is other tests' to check).
    cfg = load_config(overrides={
        "transcribe": {"model": "tiny.en"},
        "render": {"width": 270, "height": 480, "preset": "ultrafast", "font_size": 18, "margin_v": 70,
                   "title_size": 20, "margin_h": 20, "loudness": 0.0, "cover": False},
        "segment": {"backend": "openai", "openai": {"base_url": server.url, "model": "stand-in"}}})
    result = Pipeline(cfg).run(sample_run.media.path, tmp_path / "out")
    assert "transcript" in result.reused and "segments" not in result.reused
    seg = result.manifest["segmentation"]
    assert seg["backend"] == "openai" and seg["fallbacks"] == []
    assert server.requests and result.clips
    # Combined with the trained backend (the default): each sentence says who decided.
    name = f"openai:{server.url}:stand-in"
    deciders = {s.backend for s in result.segmentation.segments}
    assert deciders <= {"embed", name, f"embed+{name}"} and f"embed+{name}" in deciders


def test_category_auto_is_guessed_from_what_the_host_talks_about():
    from clipper.segment.base import guess_category

    assert guess_category(["这款精华的成分是烟酰胺，保湿提亮，敏感肌也能用", "质地很清爽，吸收很快"]) == "beauty"
    assert guess_category(["The fabric is linen and the fit is relaxed", "It drapes beautifully"]) == "apparel"
    assert guess_category(["降噪耳机续航八个小时，蓝牙连接很稳", "充电半小时"]) == "electronics"
    assert guess_category(["这个牛肉干口感很有嚼劲，配料只有牛肉和盐", "好吃不腻"]) == "food"


class _FakeAuto:
    """AutoTokenizer's two calls that ``_load_tokenizer`` makes, recorded (no transformers needed
    to test the caching; the real tokenizer's round trip is checked with SmolLM2 above)."""

    calls: list[str] = []

    class Tok:
        def save_pretrained(self, folder):
            Path(folder, "tokenizer_config.json").write_text('{"ok": true}')

    @classmethod
    def from_pretrained(cls, where, **kwargs):
        where = str(where)
        if "gguf_file" not in kwargs:      # the saved copy
            if json.loads(Path(where, "tokenizer_config.json").read_text()) != {"ok": True}:
                raise ValueError("damaged")
            cls.calls.append("saved")
        else:
            cls.calls.append("gguf")
        return cls.Tok()


def test_a_gguf_tokenizer_is_made_once_then_read_back_and_remade_when_damaged(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from clipper.segment.local_model import _load_tokenizer

    monkeypatch.setenv("CLIPPER_CACHE", str(tmp_path / "cache"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.gguf").write_bytes(b"GGUF v3")
    _FakeAuto.calls = []
    load = lambda: _load_tokenizer(_FakeAuto, str(tmp_path / "m"), "model.gguf", {"gguf_file": "model.gguf"})  # noqa: E731
    load()
    load()
    assert _FakeAuto.calls == ["gguf", "saved"]
    [saved] = (tmp_path / "cache" / "tokenizers").iterdir()
    (saved / "tokenizer_config.json").write_text("{not json")
    load()
    load()
    assert _FakeAuto.calls == ["gguf", "saved", "gguf", "saved"]
    # Another file (here: the same name, changed) is another tokenizer.
    (tmp_path / "m" / "model.gguf").write_bytes(b"GGUF v3, another vocabulary")
    load()
    assert _FakeAuto.calls[-1] == "gguf" and len(list((tmp_path / "cache" / "tokenizers").iterdir())) == 2
    # Not a local file (a hub id): never saved here.
    _load_tokenizer(_FakeAuto, "org/model", "model.gguf", {"gguf_file": "model.gguf"})
    assert len(list((tmp_path / "cache" / "tokenizers").iterdir())) == 2
