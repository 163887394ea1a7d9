"""A study config: one run config plus a `sweep:` section whose lists expand into a grid of runs.

Every point of the grid shares the base config's data and split, so all runs are scored on the
same test items and any two of them can be compared item by item.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from lorabench.config.run import RunConfig, key_line, parse_config, parse_settings, read_yaml
from lorabench.core.errors import LorabenchError
from lorabench.config.settings import ModelSpec
from lorabench.config.prompt import Strategy
from lorabench.studies.params import OWN_LISTS, SweptKey, cell_config, draw, parse_params, value_text

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
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other config key (dotted, as `--set` names it; aliases accepted) -> its list of values, "
        "e.g. {training.lr: [1.0e-4, 5.0e-4], lora.r: [8, 16]}. A study with params chooses its best cell on the "
        "validation split and reports that cell's test comparison as its headline.",
    )
    search: Literal["grid", "random"] = Field(
        "grid", description="grid: every combination; random: `trials` combinations drawn with `search_seed`."
    )
    trials: int | None = Field(None, gt=0, description="Combinations a random search runs (each with every seed).")
    search_seed: int = Field(0, description="Seed of the random search's draw (not a training seed).")
    executor: Literal["local", "ray"] = Field(
        "local", description="local: one run after another in this process; ray: runs as parallel Ray tasks."
    )
    resources: "CellResources" = Field(default_factory=lambda: CellResources(), description="What each Ray task reserves.")
    ray_address: str | None = Field(
        None, description="Ray cluster to join (`auto`: the running one); unset starts a local Ray for the study."
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

    @model_serializer(mode="wrap")
    def _omit_unused(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A study without the newer keys saves the study.yaml it saved before they existed.
        data = handler(self)
        for name in ("params", "search", "trials", "search_seed", "executor", "resources", "ray_address"):
            if name in data and getattr(self, name) == SweepSettings.model_fields[name].get_default(call_default_factory=True):
                data.pop(name)
        return data

    @model_validator(mode="after")
    def _trials_with_random(self) -> "SweepSettings":
        if self.search == "random" and self.trials is None:
            raise ValueError("search: random needs `trials`: how many combinations to draw")
        if self.search == "grid" and self.trials is not None:
            raise ValueError("trials applies to search: random only (a grid runs every combination)")
        return self


class CellResources(BaseModel):
    """What one run reserves as a Ray task: Ray starts no more runs at once than these fit."""

    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(1, gt=0, description="CPU cores per run (Ray sets the run's OMP threads to this).")
    gpus: float | None = Field(
        None, ge=0, description="GPUs per run; unset: 1 when the Ray cluster has GPUs, else 0 (Ray hides GPUs "
        "from a task that asks for none).",
    )


SweepSettings.model_rebuild()


@dataclass(frozen=True)
class GridPoint:
    name: str  # folder name under <out>/runs, built from the swept values only
    values: dict[str, Any]  # dimension -> value, for every dimension (swept or not) and every sweep.params key
    config: RunConfig
    cell: str = ""  # the name without its seed: the runs of one cell differ only in the training seed


@dataclass
class Study:
    base: RunConfig
    sweep: SweepSettings
    points: list[GridPoint]
    params: list[SweptKey] = field(default_factory=list)
    grid_size: int = 0  # combinations before a random search drew `trials` of them (times seeds)

    @property
    def out(self) -> Path:
        return Path(self.base.out)

    @property
    def dimensions(self) -> list[str]:
        return [*DIMENSIONS, *(k.name for k in self.params)]

    @property
    def swept(self) -> list[str]:
        return [d for d in self.dimensions if len({str(p.values[d]) for p in self.points}) > 1]

    @property
    def chooses(self) -> bool:
        """A study over `sweep.params` picks its best cell on validation; one over the four lists
        alone (sizes, strategies, models, seeds) reports every run side by side, as it always has."""
        return bool(self.params)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(text).name if "/" in text else text).strip("-") or "model"


def expand(
    base: RunConfig, sweep: SweepSettings, params: list[SweptKey] | None = None, raw: dict[str, Any] | None = None
) -> list[GridPoint]:
    """The cross product of the swept lists, in a stable order (models outermost, then training
    sizes, strategies, `params` keys in the order written, seeds innermost). A random search keeps
    `sweep.trials` of the combinations (every drawn one with every seed)."""
    params = params or []
    lists = {
        "model": sweep.models or [base.model],
        "train_size": sweep.train_sizes or [base.data.train_size],
        "strategy": sweep.strategies or [base.prompt.strategy],
    }
    seeds = sweep.seeds or [base.training.seed]
    names = [_slug(m.name) for m in lists["model"]]
    if len(set(names)) != len(names):
        raise LorabenchError(f"sweep.models: two models share a folder name ({names}); rename or drop one")
    combos = list(itertools.product(*lists.values(), itertools.product(*(k.values for k in params))))
    if sweep.search == "random":
        if sweep.trials is not None and sweep.trials > len(combos):
            raise LorabenchError(f"sweep.trials: {sweep.trials} draws from a grid of only {len(combos)} combinations")
        combos = draw(combos, sweep.trials or len(combos), sweep.search_seed)
    cell_bases: dict[tuple[Any, ...], RunConfig] = {}
    points = []
    for model, size, strategy, values in combos:
        if params and values not in cell_bases:
            cell_bases[values] = cell_config(raw or {}, params, values)
        cell_base = cell_bases[values] if params else base
        parts = []
        if sweep.models:
            parts.append(_slug(model.name))
        if sweep.train_sizes:
            parts.append(f"n{size}")
        if sweep.strategies:
            parts.append(strategy)
        parts += [f"{key.label}{value_text(value)}" for key, value in zip(params, values)]
        for seed in seeds:
            name = "__".join([*parts, f"seed{seed}"] if sweep.seeds else parts) or "run"
            update: dict[str, Any] = {
                "model": model,
                "data": cell_base.data.model_copy(update={"train_size": size}),
                "prompt": cell_base.prompt.model_copy(update={"strategy": strategy}),
                "training": cell_base.training.model_copy(update={"seed": seed}),
                "out": str(Path(base.out) / "runs" / name),
            }
            if sweep.eval_each_epoch:
                # Every epoch's adapter must stay on disk to be evaluated after training.
                training = update["training"]
                update["training"] = training.model_copy(update={
                    "save_every": "epoch",
                    "save_total_limit": max(training.save_total_limit, math.ceil(training.epochs) + 1),
                })
            config = RunConfig.model_validate(cell_base.model_copy(update=update).model_dump())
            point_values = {"model": model.name, "train_size": size, "strategy": strategy, "seed": seed}
            point_values.update({key.name: value for key, value in zip(params, values)})
            points.append(GridPoint(name, point_values, config, "__".join(parts) or "run"))
    if len({p.name for p in points}) != len(points):
        clash = next(p.name for p in points if sum(q.name == p.name for q in points) > 1)
        raise LorabenchError(f"sweep.params: two runs would share the folder name {clash}; list distinct values")
    return points


def load_study(path: Path, overrides: list[str] | None = None) -> Study:
    """Read a study config: the run settings plus `sweep:` (errors name the file, line and key)."""
    raw, document = read_yaml(path, overrides)
    if not isinstance(raw, dict) or "sweep" not in raw:
        raise LorabenchError(f"{path}: no 'sweep' section; a single run is `lorabench run {path}`")
    raw = dict(raw)
    sweep_raw = raw.pop("sweep") or {}
    sweep = parse_settings(SweepSettings, sweep_raw, str(path), document, prefix=("sweep",))
    base = parse_config(raw, str(path), document)

    def where(key_path: tuple[Any, ...]) -> str:
        line = key_line(document, key_path)
        return f"{path}:{line}" if line else str(path)

    params = parse_params(sweep.params, raw, where)
    sweep, params = _own_lists(sweep, params, sweep_raw, path, document, where)
    points = expand(base, sweep, params, raw)
    lists = [sweep.models, sweep.train_sizes, sweep.strategies, *[k.values for k in params]]
    grid = math.prod(len(values) for values in lists if values) * len(sweep.seeds or [0])
    return Study(base, sweep, points, params, grid)


def _own_lists(
    sweep: SweepSettings, params: list[SweptKey], sweep_raw: Any, path: Path, document: Any, where: Any
) -> tuple[SweepSettings, list[SweptKey]]:
    """`sweep.params` entries for the keys with a list of their own (training.seed is `seeds`, ...)
    become that list, so the runs are named and compared as if the list had been written."""
    moved: dict[str, Any] = {}
    kept = []
    for key in params:
        own = OWN_LISTS.get(key.path)
        if own is None:
            kept.append(key)
            continue
        if getattr(sweep, own) is not None or own in moved:
            raise LorabenchError(f"{where(('sweep', 'params', key.written))}: sweep.params.{key.written}: "
                                 f"given twice, also as sweep.{own}; give it once")
        moved[own] = list(key.values)
    if not moved:
        return sweep, kept
    merged = {**(sweep_raw if isinstance(sweep_raw, dict) else {}), **moved}
    merged["params"] = {k.written: list(k.values) for k in kept}
    return parse_settings(SweepSettings, merged, str(path), document, prefix=("sweep",)), kept
