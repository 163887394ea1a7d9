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


def tiny_sweep(tmp_path: Path, model: Path | str, data: Path | str, name: str,
               params: str = "training.lr: [0.005, 0.02]", extra: str = "") -> Path:
    """A study over sweep.params as a YAML file `<name>.yaml` in `tmp_path`, writing to `tmp_path/<name>`."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"""\
model: {model}
task: extractive
data:
  source: {data}
  split: {{test: 8, validation: 4, seed: 0}}
  train_size: 10
lora: {{r: 2, alpha: 4, target_modules: [q_proj, v_proj]}}
training: {{epochs: 1, batch_size: 2, val_metric_items: 0, logging_steps: 1}}
decoding: {{max_new_tokens: 4, batch_size: 4}}
metrics: {{bootstrap_resamples: 200}}
out: {tmp_path / name}
sweep:
  params: {{{params}}}
{extra}""")
    return path
