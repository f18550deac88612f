"""Language-model segmentation: numbered sentences in, ids + labels + tags out (never times).

The transcript is sent in windows of ``window`` sentences that overlap by ``overlap``; each
sentence takes its label from the window in which it sits furthest from the edge. Every
reply is parsed and validated against a JSON schema (labels, the category's tags, every id
of the window present). An invalid reply is retried with the validation error appended; a
window whose replies stay invalid falls back to the rules backend, and the fallback is
recorded. Replies are cached on disk by a hash of model, prompt and input.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import jsonschema

from ..config import Category, Cues, LLMConfig
from ..types import Label, Segment
from .item import Item
from .rules import RulesClassifier

log = logging.getLogger(__name__)
PROMPT = (Path(__file__).parent / "prompts" / "segment.txt").read_text(encoding="utf-8")
PROMPT_VERSION = hashlib.sha256(PROMPT.encode()).hexdigest()[:12]


class ChatModel(Protocol):
    """Anything that answers chat messages with text (a local model, an HTTP endpoint)."""

    name: str

    def complete(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None = None) -> str:
        """The reply text; ``schema`` (JSON Schema) constrains it where the model can be constrained."""
        ...


@dataclass(frozen=True)
class Fallback:
    first: str
    last: str
    reason: str


class ReplyCache:
    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        if self.root is None:
            return None
        path = self._path(key)
        return json.loads(path.read_text(encoding="utf-8"))["reply"] if path.is_file() else None

    def put(self, key: str, reply: str) -> None:
        if self.root is None:
            return
        from ..workspace import write_json_atomic

        write_json_atomic(self._path(key), {"reply": reply})


def reply_schema(n_tags: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": {
            "type": "object", "required": ["id", "label"],
            "properties": {"id": {"type": "integer"},
                           "label": {"enum": [label.value for label in Label]},
                           "tags": {"type": "array", "items": {"enum": list(n_tags)}, "maxItems": 3}}}}}}


def constrained_schema(ids: Sequence[int], tags: Sequence[str]) -> dict[str, Any]:
    """The schema a server constrains its decoding to: exactly these ids, known labels and tags,
    nothing else (strict structured-output rules: every property required, no extras)."""
    return {
        "type": "object", "additionalProperties": False, "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": len(ids), "maxItems": len(ids), "items": {
            "type": "object", "additionalProperties": False, "required": ["id", "label", "tags"],
            "properties": {"id": {"type": "integer", "enum": list(ids)},
                           "label": {"type": "string", "enum": [label.value for label in Label]},
                           "tags": {"type": "array", "items": {"type": "string", "enum": list(tags)},
                                    "maxItems": 3}}}}}}


def build_messages(items: Sequence[Item], category: Category, first_number: int) -> list[dict[str, str]]:
    tags = "\n".join(f"- {name}: {spec.description}" for name, spec in category.tags.items())
    tags += "\n- other: a selling point none of the tags above fits"
    numbered = "\n".join(f"[{first_number + i}] {item.text}" for i, item in enumerate(items))
    prompt = PROMPT.format(category_description=category.description.rstrip(".") + ".", tags=tags,
                           sentences=numbered, first_id=first_number, last_id=first_number + len(items) - 1)
    return [{"role": "system", "content": "You are a careful annotator. You answer with JSON only."},
            {"role": "user", "content": prompt}]


def parse_reply(text: str, ids: Sequence[int], tags: Sequence[str]) -> dict[int, tuple[Label, tuple[str, ...]]]:
    """Validate a reply; raise ValueError saying what is wrong."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("the reply holds no JSON object")
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg})") from None
    for item in data.get("items", []) if isinstance(data, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("label"), str):
            item["label"] = item["label"].strip().upper().replace(" ", "_")  # "selling point" is fine
    try:
        jsonschema.validate(data, reply_schema(list(tags) + ["other"]))
    except jsonschema.ValidationError as exc:
        raise ValueError(f"the reply does not match the schema: {exc.message}") from None
    got = {item["id"]: (Label(item["label"]), tuple(item.get("tags") or ())) for item in data["items"]}
    missing = [i for i in ids if i not in got]
    if missing:
        raise ValueError(f"ids missing from the reply: {missing[:10]}")
    return {i: got[i] for i in ids}


def windows(n: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) windows covering n sentences."""
    step = max(1, size - overlap)
    out, start = [], 0
    while True:
        out.append((start, min(n, start + size)))
        if start + size >= n:
            return out
        start += step


class LLMClassifier:
    def __init__(self, chat: ChatModel, category: Category, cues: Cues, cfg: LLMConfig,
                 cache_root: Path | None, max_tokens: int = 0) -> None:
        self.chat, self.category, self.cfg = chat, category, cfg
        self.name = chat.name
        self.rules = RulesClassifier(category, cues)
        self.cache = ReplyCache(cache_root if cfg.cache else None)
        self.max_tokens = max_tokens or 24 * cfg.window + 32
        self.fallbacks: list[Fallback] = []

    def classify(self, items: Sequence[Item]) -> list[Segment]:
        self.fallbacks = []
        if not items:
            return []
        rules = self.rules.classify(items)
        spans = windows(len(items), self.cfg.window, min(self.cfg.overlap, self.cfg.window - 1))
        answers: list[dict[int, tuple[Label, tuple[str, ...]]] | None] = []
        for start, end in spans:
            answers.append(self._ask(items[start:end], start + 1))
        out = []
        for i, item in enumerate(items):
            # The window in which sentence i sits furthest from an edge decides its label.
            w = max(range(len(spans)), key=lambda k: min(i - spans[k][0], spans[k][1] - 1 - i)
                    if spans[k][0] <= i < spans[k][1] else -1)
            answer = answers[w]
            if answer is None:
                out.append(Segment(item.id, rules[i].label, rules[i].tags, score=rules[i].score,
                                   backend="rules-fallback", cues=rules[i].cues))
                continue
            label, tags = answer[i + 1]
            if label is Label.SELLING_POINT:
                tags = tags or ("other",)
            else:
                tags = ()
            out.append(Segment(item.id, label, tags, score=1.0, backend=self.name))
        return out

    def _ask(self, items: Sequence[Item], first_number: int) -> dict[int, tuple[Label, tuple[str, ...]]] | None:
        messages = build_messages(items, self.category, first_number)
        ids = list(range(first_number, first_number + len(items)))
        reason = ""
        for attempt in range(self.cfg.retries + 1):
            key = hashlib.sha256(json.dumps([self.chat.name, PROMPT_VERSION, messages], ensure_ascii=False)
                                 .encode()).hexdigest()
            reply = self.cache.get(key)
            if reply is None:
                reply = self.chat.complete(messages, self.max_tokens,
                                           schema=constrained_schema(ids, list(self.category.tags) + ["other"]))
                self.cache.put(key, reply)
            try:
                return parse_reply(reply, ids, list(self.category.tags))
            except ValueError as exc:
                reason = str(exc)
                log.info("%s: invalid reply for sentences %d-%d (attempt %d): %s", self.name, ids[0], ids[-1],
                         attempt + 1, reason)
                messages = messages[:2] + [{"role": "assistant", "content": reply[:2000]},
                                           {"role": "user", "content": f"That answer is invalid: {reason}. "
                                            "Answer again with the JSON object only."}]
        log.warning("%s: falling back to rules for sentences %d-%d: %s", self.name, ids[0], ids[-1], reason)
        self.fallbacks.append(Fallback(items[0].id, items[-1].id, reason))
        return None
