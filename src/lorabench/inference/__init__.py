"""Evaluation backends by name: each turns a loaded model into the one interface of `base.Backend`.

A new backend is one module plus one line in `BACKENDS`. Factories import their module only when
called, so naming a backend never imports an engine that is not installed (vLLM is an extra).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from lorabench.inference.base import Backend
from lorabench.core.errors import LorabenchError

if TYPE_CHECKING:
    from lorabench.config.decoding import DecodingSettings
    from lorabench.models.load import LoadedModel


def _hf(loaded: LoadedModel, decoding: DecodingSettings | None) -> Backend:
    from lorabench.inference.hf import HFBackend

    return HFBackend(loaded, decoding.engine if decoding is not None else "auto")


def _vllm(loaded: LoadedModel, decoding: DecodingSettings | None) -> Backend:
    from lorabench.inference.vllm import VLLMBackend

    return VLLMBackend(loaded, decoding.vllm if decoding is not None else None)


BACKENDS: dict[str, Callable[[LoadedModel, "DecodingSettings | None"], Backend]] = {"hf": _hf, "vllm": _vllm}


def get_backend(name: str, loaded: LoadedModel, decoding: DecodingSettings | None = None) -> Backend:
    """The backend `name` serving `loaded` (its tokenizer builds the prompts, in every backend),
    generating with `decoding.engine` and sized by `decoding`'s section for it (decoding.vllm) when
    given. (The settings refuse an engine other than auto for a backend that has only one.)"""
    factory = BACKENDS.get(name)
    if factory is None:
        raise LorabenchError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    return factory(loaded, decoding)


def check_can_serve(decoding: DecodingSettings, task: str, with_adapter: bool) -> None:
    """Refuse, before any model loads, an evaluation `decoding.backend` would fail part way through."""
    if decoding.backend == "vllm":
        from lorabench.inference.vllm import check_can_serve as check_vllm

        check_vllm(decoding, task, with_adapter)


def release_engines() -> None:
    """Free what a backend keeps between calls (vLLM's engine holds its share of GPU memory, or its
    CPU KV cache), so training after an evaluation gets the memory. Imports nothing new."""
    module = sys.modules.get("lorabench.inference.vllm")
    if module is not None:
        module.release_engines()


__all__ = ["BACKENDS", "Backend", "check_can_serve", "get_backend", "release_engines"]
