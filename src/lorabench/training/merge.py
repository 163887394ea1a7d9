"""`lorabench merge`: fold a saved adapter into its base, and prove the result answers as before.

The merged folder is a plain transformers model (safetensors + tokenizer + the adapter's
lorabench.json, marked merged), usable without peft. It is written beside `out` under a temporary
name and renamed into place only after the merged model, loaded back from disk, gave the same
greedy answers as base + adapter on every check item: a merge that changed the model's behaviour
leaves nothing behind.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from lorabench.models.adapter_folder import ADAPTER_META, read_adapter_meta
from lorabench.config.run import parse_settings
from lorabench.data.loaders import load_records
from lorabench.data.records import Record, TaskKind
from lorabench.data.spec import DataSpec
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError, invalid_settings
from lorabench.core.messages import Hint, Message
from lorabench.evaluation.runner import evaluate_records
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import LoadedModel, ModelSpec, load_model
from lorabench.config.prompt import PromptSettings
from lorabench.results import MergeResult
from lorabench.runs.folder import ensure_run_folder, write_json
from lorabench.core.kinds import get_task

DEFAULT_CHECK_ITEMS = 8
_SHOWN_DIFFERENCES = 3
DTYPES: tuple[str, ...] = get_args(ModelSpec.model_fields["dtype"].annotation)


def check_mergeable(model: Any, targets: list[str] | str) -> None:
    """LorabenchError when merging would be wrong: an output head tied to the input embeddings shares
    one weight matrix with them, so merging the head's update into it would change both."""
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    embed = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if targets == "all-linear" or head is None or embed is None or head.weight is not embed.weight:
        return
    name = next(n for n, m in model.named_modules() if m is head)
    if any(name == t or name.endswith("." + t) for t in targets):
        raise LorabenchError(
            f"cannot merge: lora.target_modules adapts '{name}', whose weights are tied to the input "
            "embeddings, so merging would change those too; keep the adapter unmerged or leave it out"
        )


def write_merged(loaded: LoadedModel, folder: Path, meta: dict[str, Any]) -> None:
    """Merge the adapter of `loaded` into its base weights (in place; `loaded.model` becomes the
    plain merged model) and save weights, tokenizer and the adapter's lorabench.json `meta` (as the
    caller read or made it: no need to read it back), marked merged."""
    merged = loaded.model.merge_and_unload()
    loaded.model = merged
    merged.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    marked = {**meta, "merged": {"adapter": loaded.adapter, "adapter_sha256": loaded.adapter_sha256}}
    write_json(Path(folder) / ADAPTER_META, marked)


def merge_adapter(
    adapter: Path,
    out: Path,
    check_items: int = DEFAULT_CHECK_ITEMS,
    data: str | None = None,
    model: str | None = None,
    dtype: str | None = None,
    force: bool = False,
) -> MergeResult:
    """Merge the lorabench adapter folder `adapter` into its base and write the merged model to `out`.

    The base is the one `lorabench.json` names (`model` overrides it), loaded unquantized on the
    CPU in `dtype`, by default the one the adapter was trained in. The check items are the first `check_items` of
    `data`, else synthetic items of the adapter's task, prompted with the adapter's own prompt
    settings. `out` must be absent or empty unless `force`.
    """
    adapter, out = Path(adapter), Path(out)
    meta = read_adapter_meta(adapter)
    meta_path = str(adapter / ADAPTER_META)
    task = _task(meta["task"], meta_path)
    prompt = parse_settings(PromptSettings, meta["prompt"], meta_path, prefix=("prompt",))
    if dtype is not None and dtype not in DTYPES:
        raise LorabenchError.about("dtype", f"{dtype!r} is not one of {', '.join(DTYPES)}")
    spec = _base_spec(meta, model, meta_path, dtype)
    _check_out(out, force, [adapter])
    records, items_from = _check_records(task, data, check_items)

    loaded = load_model(spec, adapter=str(adapter))
    _check_same_base(loaded, meta, spec.name)
    if loaded.source.kind in ("folder", "gguf"):
        _check_out(out, force, [Path(loaded.source.path)])
    check_mergeable(loaded.model.get_base_model(), meta["lora"].get("target_modules", "all-linear"))
    expected = greedy_answers(loaded, records, prompt)
    with _staged(out) as staging:
        write_merged(loaded, staging, meta)
        del loaded
        gc.collect()
        merged = load_model(ModelSpec(name=str(staging), dtype=spec.dtype, device="cpu"))
        got = greedy_answers(merged, records, prompt)
        _check_identical(expected, got, out, spec.dtype)
    return MergeResult(out=out, base=spec.name, checked=len(expected), items_from=items_from)


def greedy_answers(loaded: LoadedModel, records: Sequence[Record], prompt: PromptSettings) -> dict[str, str]:
    """Each record's greedy continuation (before it is cut at stop strings), by id. Multiple choice
    is generated too: what is compared is what the model writes, not a ranking of options."""
    decoding = DecodingSettings(choice_mode="generate")
    rows = evaluate_records(loaded, records, prompt, decoding, ScoreSettings()).rows
    return {row["id"]: row["raw"] for row in rows}


def _task(name: Any, meta_path: str) -> TaskKind:
    try:
        return TaskKind(name)
    except ValueError:
        raise LorabenchError(f"{meta_path}: task: {name!r} is not a task kind this lorabench knows") from None


def _base_spec(meta: dict[str, Any], model: str | None, meta_path: str, dtype: str | None) -> ModelSpec:
    """The recorded base, or `model`, in the recorded dtype unless `dtype` is given. A local base is
    tried as it was named, then at the absolute path it resolved to, so a relative name still works
    from another directory."""
    recorded = meta["base_model"]
    name = model or recorded["name"]
    if model is None and recorded.get("kind") in ("folder", "gguf") and not Path(name).expanduser().exists():
        name = recorded.get("path") or name
    raw = {"name": name, "dtype": dtype or recorded.get("dtype") or "auto"}
    if model is None and recorded.get("revision"):
        raw["revision"] = recorded["revision"]
    return parse_settings(ModelSpec, raw, meta_path, prefix=("base_model",)).unquantized(raw["dtype"])


def _check_same_base(loaded: LoadedModel, meta: dict[str, Any], name: str) -> None:
    """A GGUF or packaged base is identified by its hash: refuse one that is not what the adapter was trained on."""
    trained_on = meta["base_model"].get("sha256")
    if trained_on and loaded.source.sha256 and loaded.source.sha256 != trained_on:
        raise LorabenchError(Message(
            f"base model '{name}' has sha256 {loaded.source.sha256[:12]}..., but the adapter was trained on "
            f"{trained_on[:12]}...; give the base it was trained on with ", Hint("model", ""),
        ))


def _check_out(out: Path, force: bool, keep: list[Path]) -> None:
    """Refuse an `out` that is in use, or whose replacement (`force`) would delete the adapter or the base."""
    ensure_run_folder(out, "out")
    target = out.resolve()
    for path in keep:
        if path.exists() and (path.resolve() == target or target in path.resolve().parents):
            raise LorabenchError.about("out", f"{out} holds {path}, which the merge reads; choose another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise LorabenchError.about(
            "out", Message(f"{out} exists and is not empty; choose another folder, or pass ", Hint("force"), " to replace it")
        )


def _check_records(task: TaskKind, data: str | None, n: int) -> tuple[list[Record], str]:
    if n < 1:
        raise LorabenchError.about("check_items", f"{n}; at least 1 item must be checked")
    if data is None:
        records = synthesize(task, n, seed=0, short_passages=get_task(task).passage_lengths)
        return records, f"synthetic {task.value} items"
    try:
        spec = DataSpec(path=data, task=task)
    except ValidationError as error:
        raise invalid_settings(error, "data") from None
    records = load_records(spec).records[:n]
    return records, f"the first {len(records)} items of {data}"


def _check_identical(expected: dict[str, str], got: dict[str, str], out: Path, dtype: str) -> None:
    differing = [item for item, answer in expected.items() if got.get(item) != answer]
    if not differing:
        return
    shown = "; ".join(
        f"{item}: {expected[item]!r} before, {got.get(item)!r} merged" for item in differing[:_SHOWN_DIFFERENCES]
    )
    more = f"; and {len(differing) - _SHOWN_DIFFERENCES} more" if len(differing) > _SHOWN_DIFFERENCES else ""
    # A 16-bit merge rounds the weight plus its update, which the unmerged model never does.
    fix = (Message("Keep using the adapter unmerged") if dtype == "float32"
           else Message("Merge with ", Hint("dtype", "float32"), ", or keep the adapter unmerged"))
    raise LorabenchError(Message(
        f"the merged model ({dtype}) answers {len(differing)} of {len(expected)} check items differently from "
        f"base + adapter ({shown}{more}); nothing was written to {out}. ", fix,
    ))


@contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` that replaces `out` only if the block finishes; on any
    failure it is removed, with the parent folders made for it."""
    made = [folder for folder in (out.parent, *out.parent.parents) if not folder.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)  # empty, or replaced as --force asked
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in made:  # deepest first
            with suppress(OSError):
                folder.rmdir()
        raise
