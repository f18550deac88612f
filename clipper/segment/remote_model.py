"""Any OpenAI-compatible chat-completions endpoint: vLLM, Ollama, llama.cpp server, hosted APIs.

Plain HTTP with the standard library (no SDK): POST {base_url}/chat/completions. Connection
errors, timeouts, 429 and 5xx are retried with exponential backoff; other HTTP errors fail
at once with the server's message. The API key comes from an environment variable.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.request

from ..config import OpenAIConfig
from ..errors import ConfigError, SegmentationError

log = logging.getLogger(__name__)
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIChat:
    def __init__(self, cfg: OpenAIConfig) -> None:
        if not cfg.model:
            raise ConfigError("segment.openai.model is empty: name the model the server serves")
        self.cfg = cfg
        self.name = f"openai:{cfg.base_url}:{cfg.model}"
        self.url = cfg.base_url.rstrip("/") + "/chat/completions"
        self.api_key = os.environ.get(cfg.api_key_env, "")

    def complete(self, messages: list[dict[str, str]], max_tokens: int) -> str:
        body = {"model": self.cfg.model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
        if self.cfg.json_mode:
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
