"""An adapter folder that works away from the machine that trained it.

Besides peft's weights and `adapter_config.json`, lorabench leaves the tokenizer it trained with
and `lorabench.json` (how the adapter was made). `adapter_config.json` names the base as the user
gave it (hub id, packaged alias, or the local path as typed, relative if it was), never the cache
folder a GGUF or packaged base was converted into, so `peft.PeftModel.from_pretrained` and the
Hub's `base_model` link mean something on another machine. lorabench itself never relies on that
field: it loads the base from the run's config or from `lorabench.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorabench.core.errors import LorabenchError
from lorabench.runs.folder import write_json

ADAPTER_META = "lorabench.json"
ADAPTER_CONFIG = "adapter_config.json"
CARD_FILE = "README.md"
# What merging and the model card need from lorabench.json; adapters from every lorabench version have them.
_REQUIRED = ("task", "prompt", "lora", "base_model")


def save_portable_files(folder: Path, tokenizer: Any, base_name: str, revision: str | None) -> None:
    """Next to weights peft just saved: the tokenizer, and the base named by `base_name`.

    peft's own README.md goes: it is a blank template whose `base_model` is the local folder the
    weights were loaded from (a cache path); the real card is `report.model_card`'s.
    """
    tokenizer.save_pretrained(folder)
    set_base_reference(folder, base_name, revision)
    (Path(folder) / CARD_FILE).unlink(missing_ok=True)


def set_base_reference(folder: Path, base_name: str, revision: str | None = None) -> None:
    """Point `adapter_config.json` at the base by the name the user gave (and its hub revision)."""
    path = Path(folder) / ADAPTER_CONFIG
    config = _read_json(path)
    config["base_model_name_or_path"] = base_name
    if revision is not None:
        config["revision"] = revision
    write_json(path, config)


def read_adapter_meta(folder: Path) -> dict[str, Any]:
    """`lorabench.json` of an adapter folder, after checking the folder is a lorabench adapter."""
    folder = Path(folder)
    if not folder.exists():
        raise LorabenchError(f"adapter folder not found: {folder}; check the path")
    if not folder.is_dir():
        raise LorabenchError(f"{folder} is a file; give a LoRA adapter folder")
    if not (folder / ADAPTER_CONFIG).is_file():
        what = "a base model folder, not a LoRA adapter" if (folder / "config.json").is_file() else "not a LoRA adapter folder"
        raise LorabenchError(f"{folder} has no {ADAPTER_CONFIG}: it is {what}")
    _read_json(folder / ADAPTER_CONFIG)
    path = folder / ADAPTER_META
    if not path.is_file():
        raise LorabenchError(
            f"{folder} has no {ADAPTER_META}, which records the adapter's base model, task and prompt; "
            "only adapters saved by `lorabench train` or `lorabench run` have it"
        )
    meta = _read_json(path)
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise LorabenchError(f"{path}: lacks {', '.join(missing)}; the adapter folder is damaged")
    malformed = [key for key in _REQUIRED[1:] if not isinstance(meta[key], dict)]
    if malformed or not meta["base_model"].get("name"):
        what = f"{', '.join(malformed)}: not a JSON object" if malformed else "base_model.name: missing"
        raise LorabenchError(f"{path}: {what}; the adapter folder is damaged")
    return meta


def _read_json(path: Path) -> dict[str, Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise LorabenchError(f"{path}:{error.lineno}: not valid JSON ({error.msg}); the adapter folder is damaged") from None
    if not isinstance(payload, dict):
        raise LorabenchError(f"{path}: expected a JSON object; the adapter folder is damaged")
    return payload
