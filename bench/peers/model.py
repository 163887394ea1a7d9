"""The one model every tool runs, and the timer every case uses."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lorabench.models import gguf as gguf_cache
from lorabench.models.load import LoadedModel, ModelSpec, load_model, resolve_source

T = TypeVar("T")
ALIAS = "smollm2-135m-instruct"
DEVICE = "cpu"


def model_folder(alias: str = ALIAS) -> Path:
    """The transformers folder lorabench converts the packaged GGUF into (once, cached): the peers
    load it with `pretrained=<folder>`, so every tool reads the very same weights (in the dtype each is given)."""
    source = resolve_source(alias)
    return gguf_cache.ensure_converted(source.path, source.sha256)


def load_lorabench(dtype: str = "float32", alias: str = ALIAS) -> LoadedModel:
    """The model as `lorabench eval` / `lorabench train` load it on the CPU, with model.dtype `dtype`."""
    return load_model(ModelSpec(name=alias, device=DEVICE, dtype=dtype))


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """`work()` and its wall time; garbage from earlier work is collected first, outside the timing."""
    gc.collect()
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started
