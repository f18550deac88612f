"""Any OpenAI-compatible chat-completions endpoint: vLLM, Ollama, llama.cpp server, hosted APIs.

Plain HTTP with the standard library (no SDK): POST {base_url}/chat/completions. Connection
errors, timeouts, 429 and 5xx are retried with exponential backoff; other HTTP errors fail
at once with the server's message. The API key comes from an environment variable.

The reply is constrained by the server where it can be: ``response_format`` of type
``json_schema`` (vLLM's guided decoding, Ollama's and llama.cpp's grammars, OpenAI's
structured outputs) makes a malformed answer impossible. A server that rejects that format
(HTTP 400 naming it) is asked once more with ``json_object``, then with none, and the weaker
format is kept for the rest of the session.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import urllib.error
import urllib.request

from ..config import OpenAIConfig
from ..errors import ConfigError, SegmentationError

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


FORMATS = ("json_schema", "json_object", "none")   # strongest first


class OpenAIChat:
    def __init__(self, cfg: OpenAIConfig) -> None:
        if not cfg.model:
            raise ConfigError("segment.openai.model is empty: name the model the server serves")
        self.cfg = cfg
        self.name = f"openai:{cfg.base_url}:{cfg.model}"
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.api_key = os.environ.get(cfg.api_key_env, "")
        self.format = cfg.response_format

    def complete(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None = None) -> str:
        while True:
            try:
                return self._post(messages, max_tokens, schema)
            except _FormatRejected as exc:
                weaker = FORMATS[FORMATS.index(self.format) + 1]
                log.warning("%s rejected response_format %s (%s); using %s", self.url, self.format, exc, weaker)
                self.format = weaker

    def _post(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None) -> str:
        body = {"model": self.cfg.model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        if self.format == "json_schema" and schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "sentence_labels", "schema": schema, "strict": True}}
        elif self.format in ("json_schema", "json_object"):
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode()
        delay = 1.0
        for attempt in range(self.cfg.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.cfg.timeout) as response:
                    payload = json.loads(response.read().decode("utf-8"))
                return payload["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:300]
                if (exc.code in (400, 422) and "response_format" in body and self.format != "none"
                        and re.search(r"response_format|json_schema|json_object|guided|grammar", detail, re.I)):
                    raise _FormatRejected(f"HTTP {exc.code}") from None
                if exc.code not in RETRY_STATUS or attempt == self.cfg.retries:
                    raise SegmentationError(f"{self.url} answered HTTP {exc.code}: {detail}") from None
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == self.cfg.retries:
                    raise SegmentationError(f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}") from None
                reason = str(getattr(exc, "reason", exc))
            except (KeyError, IndexError, ValueError) as exc:
                raise SegmentationError(f"{self.url} sent no chat completion ({exc})") from None
            log.info("%s: %s, retrying in %.0fs", self.url, reason, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")


class _FormatRejected(Exception):
    """The server does not support the requested response_format."""
