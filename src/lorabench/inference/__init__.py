"""Evaluation backends by name: each turns a loaded model into the one interface of `base.Backend`.

A new backend is one module plus one line in `BACKENDS`. Factories import their module only when
called, so naming a backend never imports an engine that is not installed (vLLM is an extra).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lorabench.inference.base import Backend
from lorabench.core.errors import LorabenchError

if TYPE_CHECKING:
    from lorabench.models.load import LoadedModel


def _hf(loaded: LoadedModel) -> Backend:
    from lorabench.inference.hf import HFBackend

    return HFBackend(loaded)


def _vllm(loaded: LoadedModel) -> Backend:
    from lorabench.inference.vllm import VLLMBackend

    return VLLMBackend(loaded)


BACKENDS: dict[str, Callable[[LoadedModel], Backend]] = {"hf": _hf, "vllm": _vllm}


def get_backend(name: str, loaded: LoadedModel) -> Backend:
    """The backend `name` serving `loaded` (its tokenizer builds the prompts, in every backend)."""
    factory = BACKENDS.get(name)
    if factory is None:
        raise LorabenchError(f"unknown backend {name!r}; use one of {', '.join(BACKENDS)}")
    return factory(loaded)


__all__ = ["BACKENDS", "Backend", "get_backend"]
