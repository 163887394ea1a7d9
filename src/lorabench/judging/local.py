"""A judge lorabench loads itself: any model it loads, run greedily through its `hf` or `vllm` backend.

The judge's identity (for the cache) comes from the model's source without loading its weights: a
GGUF's sha256, a folder's weight files, a hub id and revision. So when every judgment is cached the
model is never loaded at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.inference import get_backend
from lorabench.inference.base import Backend, GenerationRequest
from lorabench.judging.cache import Completion, JudgePrompt
from lorabench.models.gguf import sha256_file
from lorabench.models.load import ModelSource, load_model
from lorabench.prompts.build import Prompt, encode_prompt, model_context_length


def _weights_fingerprint(source: ModelSource) -> str | None:
    if source.sha256 is not None:
        return source.sha256
    if source.kind != "folder":
        return None  # a hub id: its revision names the weights
    files = sorted(Path(source.path).glob("*.safetensors")) or sorted(Path(source.path).glob("*.bin"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.name}:{sha256_file(path)}".encode())
    return digest.hexdigest()


class LocalJudge:
    """The judge model `settings` name, whose name resolved to `source` (see models.load.resolve_source).
    A run opens it when it checks its judge, before any work; its weights are hashed (its identity)
    when the first judgment is looked up, and loaded when the first prompt is asked."""

    def __init__(self, settings: JudgeSettings, source: ModelSource, cache_dir: str | None = None) -> None:
        self.settings = settings
        self.source = source
        self.spec = settings.model_spec(cache_dir)
        self._backend: Backend | None = None
        self.load_seconds = 0.0

    @cached_property
    def weights(self) -> str | None:
        """The weights' fingerprint, read once for the cache key and the record."""
        return _weights_fingerprint(self.source)

    @cached_property
    def identity(self) -> str:
        return json.dumps({
            "judge": "local", "model": self.source.name, "weights": self.weights,
            "revision": self.source.revision, "backend": self.settings.backend, "dtype": self.settings.dtype,
            "max_new_tokens": self.settings.max_new_tokens,
        }, sort_keys=True)

    def _engine(self) -> Backend:
        if self._backend is None:
            loaded = load_model(self.spec)
            self.load_seconds = loaded.load_seconds
            self._backend = get_backend(self.settings.backend, loaded)
        return self._backend

    def _prompt(self, backend: Backend, key: str, text: str) -> Prompt:
        tokenizer = backend.tokenizer
        chat = bool(getattr(tokenizer, "chat_template", None))
        if chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False)
        n_tokens = len(encode_prompt(text, tokenizer, chat))
        window = model_context_length(backend)
        if window is not None and not backend.is_seq2seq and n_tokens + self.settings.max_new_tokens > window:
            raise LorabenchError(Message(
                f"judge.model '{self.spec.name}': a judge prompt takes {n_tokens} tokens plus ",
                Hint("judge.max_new_tokens", self.settings.max_new_tokens), f", more than its {window}-token context; "
                "use a judge with a longer context or a shorter rubric",
            ))
        return Prompt(key, text, "", chat, n_tokens, shortened=False)

    def complete(self, prompts: Sequence[JudgePrompt]) -> Iterator[tuple[str, Completion]]:
        if not prompts:
            return
        backend = self._engine()
        requests = [GenerationRequest(self._prompt(backend, key, text), self.settings.max_new_tokens) for key, text in prompts]
        for generation in backend.generate(requests, self.settings.batch_size):
            yield generation.record_id, Completion(
                generation.text.strip(), generation.prompt_tokens, generation.generated_tokens, generation.latency_s
            )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "local", "model": self.source.name, "source": self.source.kind,
            "weights_sha256": self.weights, "revision": self.source.revision,
            "backend": self.settings.backend, "max_new_tokens": self.settings.max_new_tokens,
            "decoding": "greedy", "load_seconds": round(self.load_seconds, 3),
        }
