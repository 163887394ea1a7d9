"""A study config: one run config plus a `sweep:` section whose lists expand into a grid of runs.

Every point of the grid shares the base config's data and split, so all runs are scored on the
same test items and any two of them can be compared item by item.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lorabench.config.run import RunConfig, parse_config, parse_settings, read_yaml
from lorabench.core.errors import LorabenchError
from lorabench.config.settings import ModelSpec
from lorabench.prompts.build import Strategy

# The dimensions a sweep can vary, in the order run names list them.
DIMENSIONS = ("model", "train_size", "strategy", "seed")


class SweepSettings(BaseModel):
    """Lists to cross; a dimension left out keeps the base config's value."""

    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] | None = Field(None, min_length=1, description="Models (alias, hub id, folder or .gguf).")
    train_sizes: list[int] | None = Field(None, min_length=1, description="Training examples used (first N of the train split).")
    strategies: list[Strategy] | None = Field(None, min_length=1, description="single / batch / sequential.")
    seeds: list[int] | None = Field(None, min_length=1, description="Training seeds (adapter init and data order).")
    eval_each_epoch: bool = Field(
        False, description="Also evaluate every epoch's adapter on the test split (costs one evaluation per epoch)."
    )

    @field_validator("models", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [{"name": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @field_validator("train_sizes")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(size <= 0 for size in value):
            raise ValueError("training sizes must be positive")
        return value


@dataclass(frozen=True)
class GridPoint:
    name: str  # folder name under <out>/runs, built from the swept values only
    values: dict[str, Any]  # dimension -> value, for every dimension (swept or not)
    config: RunConfig


@dataclass
class Study:
    base: RunConfig
    sweep: SweepSettings
    points: list[GridPoint]

    @property
    def out(self) -> Path:
        return Path(self.base.out)

    @property
    def swept(self) -> list[str]:
        return [d for d in DIMENSIONS if len({str(p.values[d]) for p in self.points}) > 1]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(text).name if "/" in text else text).strip("-") or "model"


def expand(base: RunConfig, sweep: SweepSettings) -> list[GridPoint]:
    """The cross product of the swept lists, in a stable order (models outermost)."""
    lists = {
        "model": sweep.models or [base.model],
        "train_size": sweep.train_sizes or [base.data.train_size],
        "strategy": sweep.strategies or [base.prompt.strategy],
        "seed": sweep.seeds or [base.training.seed],
    }
    names = [_slug(m.name) for m in lists["model"]]
    if len(set(names)) != len(names):
        raise LorabenchError(f"sweep.models: two models share a folder name ({names}); rename or drop one")
    points = []
    for model, size, strategy, seed in itertools.product(*lists.values()):
        parts = []
        if sweep.models:
            parts.append(_slug(model.name))
        if sweep.train_sizes:
            parts.append(f"n{size}")
        if sweep.strategies:
            parts.append(strategy)
        if sweep.seeds:
            parts.append(f"seed{seed}")
        name = "__".join(parts) or "run"
        update: dict[str, Any] = {
            "model": model,
            "data": base.data.model_copy(update={"train_size": size}),
            "prompt": base.prompt.model_copy(update={"strategy": strategy}),
            "training": base.training.model_copy(update={"seed": seed}),
            "out": str(Path(base.out) / "runs" / name),
        }
        if sweep.eval_each_epoch:
            # Every epoch's adapter must stay on disk to be evaluated after training.
            update["training"] = update["training"].model_copy(
                update={"save_every": "epoch", "save_total_limit": max(base.training.save_total_limit, math.ceil(base.training.epochs) + 1)}
            )
        config = RunConfig.model_validate(base.model_copy(update=update).model_dump())
        points.append(GridPoint(name, {"model": model.name, "train_size": size, "strategy": strategy, "seed": seed}, config))
    return points


def load_study(path: Path, overrides: list[str] | None = None) -> Study:
    """Read a study config: the run settings plus `sweep:` (errors name the file, line and key)."""
    raw, document = read_yaml(path, overrides)
    if not isinstance(raw, dict) or "sweep" not in raw:
        raise LorabenchError(f"{path}: no 'sweep' section; a single run is `lorabench run {path}`")
    raw = dict(raw)
    sweep = parse_settings(SweepSettings, raw.pop("sweep") or {}, str(path), document, prefix=("sweep",))
    base = parse_config(raw, str(path), document)
    return Study(base, sweep, expand(base, sweep))
