"""Other tools' names for lorabench's settings: a config may use the words its author brings from
transformers' TrainingArguments, TRL, peft or LLaMA-Factory.

An alias works at a config's top level (`learning_rate: 1e-4`, as in a flat Hugging Face config) and
inside the section of the key it stands for (`training: {learning_rate: 1e-4}`). Before validation
each alias is moved to lorabench's key, so the saved config.yaml holds lorabench's names only and a
config written with aliases is the same run as one written without. Torch-free, like the schemas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lorabench.core.errors import ConfigKeyError

KeyPath = tuple[str, ...]

# lorabench's key -> the names other tools give it.
ALIASES: dict[str, tuple[str, ...]] = {
    "model.name": ("model_name_or_path",),
    "training.lr": ("learning_rate",),
    "training.epochs": ("num_train_epochs",),
    "training.batch_size": ("per_device_train_batch_size",),
    "training.grad_accum": ("gradient_accumulation_steps",),
    "training.warmup_ratio": ("warmup_ratio",),
    "training.schedule": ("lr_scheduler_type",),
    "training.max_steps": ("max_steps",),
    "lora.r": ("lora_r", "lora_rank"),
    "lora.alpha": ("lora_alpha",),
    "lora.dropout": ("lora_dropout",),
    "lora.target_modules": ("lora_target", "target_modules"),
    # The name the multiple-choice scoring rule goes by in the issue that asked for it (sum | mean).
    "decoding.choice_normalization": ("choice_scoring",),
    # TRL's max_length bounds prompt + answer, max_prompt_tokens the prompt alone: see config.run.settle_max_length.
    "prompt.max_prompt_tokens": ("max_length",),
}


def _llama_factory_targets(value: Any) -> Any:
    """LLaMA-Factory's `lora_target: all` or `lora_target: q_proj,v_proj`; a list passes as it is."""
    if not isinstance(value, str):
        return value
    if value.strip() in ("all", "all-linear"):
        return "all-linear"
    return [name.strip() for name in value.split(",") if name.strip()] or value


def _unlimited_steps(value: Any) -> Any:
    # TrainingArguments' max_steps=-1 (its default, often written out) means "no limit": lorabench's unset.
    return None if value == -1 and not isinstance(value, bool) else value


# How another tool's value reads in lorabench, for the aliases whose values differ in form.
_VALUES: dict[str, Callable[[Any], Any]] = {"lora_target": _llama_factory_targets, "max_steps": _unlimited_steps}


def _spellings(key: str) -> list[KeyPath]:
    """lorabench's own path first, then each alias at the top level and inside the key's section."""
    section, field = key.split(".")
    paths: list[KeyPath] = [(section, field)]
    for alias in ALIASES[key]:
        paths += [path for path in ((alias,), (section, alias)) if path not in paths]
    return paths


_SPELLINGS = [_spellings(key) for key in ALIASES]


def _holds(raw: dict[str, Any], path: KeyPath) -> bool:
    if len(path) == 1:
        return path[0] in raw
    section = raw.get(path[0])
    return isinstance(section, dict) and path[1] in section


def _pop(raw: dict[str, Any], path: KeyPath) -> Any:
    return raw.pop(path[0]) if len(path) == 1 else raw[path[0]].pop(path[1])


def _with_own_sections(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy whose sections can be edited without touching the caller's; `model: NAME` is the
    model's name, so that a second name for it is seen."""
    raw = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    if isinstance(raw.get("model"), str):
        raw["model"] = {"name": raw["model"]}
    return raw


def canonical_names(raw: Any) -> tuple[Any, dict[KeyPath, KeyPath]]:
    """`raw` with each alias moved to lorabench's key, and for each key moved, the path it was written
    at: error messages name the key the user wrote. One setting under two names is an error."""
    if not isinstance(raw, dict):
        return raw, {}
    raw = _with_own_sections(raw)
    written: dict[KeyPath, KeyPath] = {}
    for paths in _SPELLINGS:
        present = [path for path in paths if _holds(raw, path)]
        if len(present) > 1:
            raise ConfigKeyError(present[1], "given twice", also=present[0])
        if not present or present[0] == paths[0]:
            continue
        (section, field), path = paths[0], present[0]
        if not isinstance(raw.setdefault(section, {}), dict):
            continue  # a section that is no mapping: validation says so
        raw[section][field] = _VALUES.get(path[-1], lambda value: value)(_pop(raw, path))
        written[paths[0]] = path
    return raw, written


def canonical_key(path: KeyPath) -> KeyPath:
    """lorabench's own path for a setting written under any of its names (`learning_rate` and
    `training.learning_rate` are training.lr); a path that is no alias comes back as it is."""
    return next((paths[0] for paths in _SPELLINGS if tuple(path) in paths), tuple(path))


def drop_spellings(raw: dict[str, Any], path: KeyPath) -> None:
    """Remove from `raw` every name of the setting `path` names: an override replaces the file's
    value whichever names the file and the override use."""
    paths = next((paths for paths in _SPELLINGS if path in paths), []) if isinstance(raw, dict) else []
    if paths and isinstance(raw.get("model"), str) and ("model", "name") in paths:
        del raw["model"]  # `model: NAME` holds nothing but the name
    for other in paths:
        if _holds(raw, other):
            _pop(raw, other)
