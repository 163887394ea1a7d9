"""`sweep.params`: any config key as a sweep dimension, under the same dotted names as `--set`.

A key is checked against the run config's schema (aliases such as `learning_rate` read as
`training.lr`), and every value of it against the whole config, before anything runs: a typo or an
impossible value is an error naming `sweep.params.<key>` and its line. Keys that decide which items
are tested, or how comparisons are judged, cannot be swept: every run of a study is scored on the
same test items under one set of statistics, which is what makes its runs comparable item by item.
"""

from __future__ import annotations

import copy
import difflib
import random
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import BaseModel

from lorabench.config.run import RunConfig, parse_config, set_key
from lorabench.core.errors import LorabenchError
from lorabench.config.aliases import canonical_key

# Keys with a sweep list of their own: `sweep.params` entries for them are moved to that list.
OWN_LISTS = {("model",): "models", ("model", "name"): "models", ("data", "train_size"): "train_sizes",
             ("prompt", "strategy"): "strategies", ("training", "seed"): "seeds"}

# Why a key cannot be swept, by the first parts of its path.
FIXED = {
    ("task",): "one study has one task",
    ("out",): "the study's folder is `out`; each run gets its own under it",
    ("data", "source"): "every run of a study is scored on the same test items",
    ("data", "train"): "every run of a study is scored on the same test items",
    ("data", "validation"): "every run of a study is chosen on the same validation items",
    ("data", "test"): "every run of a study is scored on the same test items",
    ("data", "split"): "the split decides the test items, which every run of a study shares",
    ("data", "test_size"): "every run of a study is scored on the same test items",
    ("data", "allow_leakage"): "leakage is checked once for the study's shared split",
    ("metrics",): "one study judges all its comparisons with the same statistics",
}


@dataclass(frozen=True)
class SweptKey:
    written: str  # as the config spells it (`learning_rate`, `training.lr`)
    path: tuple[str, ...]  # lorabench's own path (training.lr)
    values: tuple[Any, ...]
    label: str  # prefix of its part of a run's folder name (`lr` in lr0.001)

    @property
    def name(self) -> str:
        return ".".join(self.path)


def _models_in(annotation: Any) -> list[Any]:
    """The pydantic models and mapping types an annotation can hold (Optional, unions, lists)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (dict, typing.Mapping) or annotation is dict:
        return [dict]
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _unknown(path: tuple[str, ...]) -> str | None:
    """Why `path` names no setting of a run config (with the nearest names), or None if it does."""
    model: Any = RunConfig
    for depth, part in enumerate(path):
        if model is dict:
            return None  # a free mapping (training.trainer_args): TrainingArguments checks its keys
        fields = model.model_fields
        if part not in fields:
            where = ".".join(path[:depth])
            near = difflib.get_close_matches(part, list(fields), n=3)
            hint = f"; did you mean {', '.join((where + '.' if where else '') + n for n in near)}?" if near else ""
            return f"unknown key {'.'.join(path[: depth + 1])}{hint}"
        inner = _models_in(fields[part].annotation)
        if depth < len(path) - 1 and not inner:
            return f"{'.'.join(path[: depth + 1])} is a single value, it has no {path[depth + 1]!r}"
        model = inner[0] if inner else None
    if model is not None and model is not dict and path != ("model",):
        return f"{'.'.join(path)} is a section; sweep one of its keys ({', '.join(model.model_fields)})"
    return None


def _label(path: tuple[str, ...], others: list[tuple[str, ...]]) -> str:
    # The last part (lr, r, epochs) unless two swept keys end alike (lora.dropout, training.dropout).
    return "-".join(path) if sum(1 for other in others if other[-1] == path[-1]) > 1 else path[-1]


def value_text(value: Any) -> str:
    """A swept value as it appears in a run's folder name: short, file-system safe."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float):
        text = f"{value:g}"
    elif isinstance(value, (list, tuple)):
        text = "-".join(value_text(v) for v in value)
    elif isinstance(value, dict):
        text = "-".join(f"{k}{value_text(v)}" for k, v in value.items())
    else:
        text = str(value)
    return re.sub(r"[^A-Za-z0-9.+_-]+", "-", text).strip("-") or "none"


def parse_params(
    params: dict[str, Any], raw: dict[str, Any], where: typing.Callable[[tuple[Any, ...]], str]
) -> list[SweptKey]:
    """Check `sweep.params` against the schema and every value against the whole config.

    `raw` is the run config as read (without `sweep`); `where(path)` gives `file:line` for a path
    inside the study file, so errors point at the user's line.
    """
    keys: list[SweptKey] = []
    seen: dict[tuple[str, ...], str] = {}
    for written, values in params.items():
        at = ("sweep", "params", written)
        location = f"{where(at)}: sweep.params.{written}"
        parts = tuple(str(written).split("."))
        if not all(p.strip() for p in parts):
            raise LorabenchError(f"{location}: must be a dotted key such as training.lr")
        path = canonical_key(parts)
        if path in seen:
            raise LorabenchError(f"{location}: the same setting as sweep.params.{seen[path]}; give it once")
        seen[path] = written
        reason = next((why for prefix, why in FIXED.items() if path[: len(prefix)] == prefix), None)
        if reason:
            raise LorabenchError(f"{location}: cannot be swept: {reason}")
        problem = _unknown(path)
        if problem:
            raise LorabenchError(f"{location}: {problem}")
        if not isinstance(values, list) or not values:
            raise LorabenchError(f"{location}: give a non-empty list of values, e.g. [1.0e-4, 5.0e-4]")
        if len({yaml.safe_dump(v) for v in values}) != len(values):
            raise LorabenchError(f"{location}: a value is listed twice")
        for index, value in enumerate(values):
            trial = copy.deepcopy(raw)
            set_key(trial, parts, value)
            try:
                parse_config(trial, "config")
            except LorabenchError as error:
                message = str(error).removeprefix("config: ")
                raise LorabenchError(f"{where((*at, index))}: sweep.params.{written}: value {value!r}: {message}") from None
        keys.append(SweptKey(str(written), path, tuple(values), ""))
    paths = [k.path for k in keys]
    return [SweptKey(k.written, k.path, k.values, _label(k.path, paths)) for k in keys]


def cell_config(raw: dict[str, Any], keys: list[SweptKey], combo: tuple[Any, ...]) -> RunConfig:
    """The run config with one value of every swept key set, as `--set` would set it."""
    trial = copy.deepcopy(raw)
    for key, value in zip(keys, combo):
        set_key(trial, key.written.split("."), value)
    return parse_config(trial, "config")


def draw(combos: list[Any], trials: int, seed: int) -> list[Any]:
    """`trials` combinations drawn at random (seeded, without repeats), kept in grid order so that
    run names and tables read the same way as a full grid's."""
    picked = sorted(random.Random(seed).sample(range(len(combos)), trials))
    return [combos[i] for i in picked]
