"""The run config the end-to-end tests give the tiny models: one builder instead of a copy per test file.

Small on purpose (a handful of test items, rank-2 LoRA, one epoch, 4 new tokens, 200 bootstrap
resamples) so a whole `lorabench run` takes seconds; each test overrides what it is about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_run(
    model: Path | str,
    data: Path | str,
    out: Path | str,
    *,
    task: str = "extractive",
    test: int = 8,
    validation: int = 4,
    target_modules: list[str] | None = ["q_proj", "v_proj"],  # noqa: B006 - never mutated
    training: dict[str, Any] | None = None,
    data_extra: dict[str, Any] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A `lorabench run` config as a dict (dump it to YAML, or validate it as a RunConfig)."""
    lora: dict[str, Any] = {"r": 2, "alpha": 4}
    if target_modules is not None:
        lora["target_modules"] = list(target_modules)
    return {
        "model": str(model),
        "task": task,
        "data": {"source": str(data), "split": {"test": test, "validation": validation, "seed": 0}, **(data_extra or {})},
        "lora": lora,
        "training": {"epochs": 1, "batch_size": 4, **(training or {})},
        "decoding": {"max_new_tokens": 4, "batch_size": 4},
        "metrics": {"bootstrap_resamples": 200},
        **sections,
        "out": str(out),
    }
