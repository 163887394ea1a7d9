"""The retention stage of `lorabench run`: did the fine-tune hurt general ability?

lm-eval, as a library (`pip install 'lorabench[lm-eval]'`), evaluates the configured tasks on the
base model and on base + the saved adapter (its `peft=`) with samples logged, into
`retention/base/` and `retention/tuned/` in lm-eval's own layout, exactly as its CLI writes
`--output_path` with `--log_samples`. The two runs are then compared paired like any two lm-eval
runs (lm_eval_compare). Each side is reused on a rerun while its fingerprint (weights, adapter,
tasks, their files, lm-eval's settings and version) is unchanged.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.models import gguf as gguf_cache
from lorabench.core.errors import LorabenchError
from lorabench.evaluation.sharding import current_shard
from lorabench.comparison.lm_eval_compare import PairedLmEvalRuns, compare_lm_eval
from lorabench.comparison.lm_eval_files import is_lm_eval_output, read_lm_eval
from lorabench.models.load import LoadedModel
from lorabench.runs.folder import write_json
from lorabench.config.settings import ModelSpec, RetentionSettings, is_task_file

LM_EVAL_INSTALL = "pip install 'lorabench[lm-eval]'"
FOLDER = "retention"
STAMP = "stage.json"  # written last: its fingerprint says for which settings the folder is complete

Say = Callable[[str], None]


@dataclass
class RetentionPlan:
    """What the stage runs, checked before the run writes anything."""

    settings: RetentionSettings
    tasks: list[str]  # registry names as given, task files as absolute paths
    task_manager: Any  # lm_eval.tasks.TaskManager, its index built once for both runs


@dataclass
class RetentionResult:
    comparison: PairedLmEvalRuns  # base (a) vs tuned (b), one entry per TASK/METRIC
    work_seconds: dict[str, float]  # what each side took when it ran

    def to_dict(self) -> dict[str, Any]:
        """summary.json's `retention`."""
        return {
            "tasks": list(self.comparison.items), "items": self.comparison.items,
            "comparison": [c.to_dict() for c in self.comparison.comparisons],
            "notes": self.comparison.notes,
            "folders": {"base": f"{FOLDER}/base", "tuned": f"{FOLDER}/tuned"},
            "work_seconds": self.work_seconds,
        }


def plan_retention(settings: RetentionSettings, model: ModelSpec) -> RetentionPlan:
    """lm-eval installed, every registry name known, a setup lm-eval can evaluate; else one clear line."""
    if importlib.util.find_spec("lm_eval") is None:
        raise LorabenchError(f"retention: the check runs lm-evaluation-harness, which is not installed: {LM_EVAL_INSTALL}")
    if current_shard().distributed:
        raise LorabenchError("retention: lm-eval runs in one process; run without accelerate launch / torchrun, "
                             "or leave retention empty")
    if model.load_in_4bit:
        raise LorabenchError("retention: not available with model.load_in_4bit (lm-eval would load other weights)")
    from lm_eval.tasks import TaskManager

    names = [t for t in settings.tasks if not is_task_file(t)]
    # lm-eval indexes its ~15,000 bundled task files only when a registry name needs them (seconds).
    manager = TaskManager(include_defaults=bool(names))
    unknown = [name for name in names if name not in manager.all_tasks]
    if unknown:
        raise LorabenchError(
            f"retention.tasks: {', '.join(unknown)}: not an lm-eval task, group or tag (`lm-eval ls tasks` lists them)"
        )
    tasks = [str(Path(t).expanduser().resolve()) if is_task_file(t) else t for t in settings.tasks]
    return RetentionPlan(settings, tasks, manager)


def model_args(loaded: LoadedModel, adapter: Path | None) -> dict[str, Any]:
    """lm-eval's `hf` model arguments for the weights lorabench loaded, from where it read them (a
    GGUF as its converted folder)."""
    source = loaded.source
    args: dict[str, Any] = {
        "pretrained": loaded.location, "dtype": str(loaded.dtype).removeprefix("torch."),
        "trust_remote_code": loaded.spec.trust_remote_code,
    }
    if source.kind == "hub" and source.revision:
        args["revision"] = source.revision
    if adapter is not None:
        args["peft"] = str(adapter.resolve())
    return args


def _data_files(config: dict[str, Any]) -> list[str]:
    files = (config.get("dataset_kwargs") or {}).get("data_files") or []
    if isinstance(files, dict):
        files = list(files.values())
    flat = [f for entry in ([files] if isinstance(files, str) else files) for f in ([entry] if isinstance(entry, str) else entry)]
    return [*flat, str(config.get("dataset_path") or "")]


def _task_identity(task: str) -> Any:
    """A registry name stands for itself (with lm-eval's version); a task file for its resolved
    config, the Python files beside it (its `!function`s) and the local data files it names."""
    if not is_task_file(task):
        return task
    from lm_eval.tasks._yaml_loader import load_yaml

    path = Path(task)
    try:
        config = load_yaml(path, resolve_func=False)
    except (OSError, ValueError) as error:  # yaml's errors are ValueErrors
        raise LorabenchError(f"retention.tasks: {path}: not a readable lm-eval task file ({error})") from None
    files = sorted({*path.parent.glob("*.py"), *(Path(f) for f in _data_files(config) if f and Path(f).is_file())})
    return {
        "config": json.dumps(config, sort_keys=True, default=str),
        "files": {str(f): gguf_cache.sha256_file(f) for f in files},
    }


def _fingerprint(plan: RetentionPlan, loaded: LoadedModel, adapter: Path | None) -> str:
    import lm_eval

    weights = adapter / "adapter_model.safetensors" if adapter is not None else None
    payload = {
        "lm_eval": getattr(lm_eval, "__version__", "?"),
        "model": {k: v for k, v in loaded.description.items() if not k.startswith("adapter")},
        "adapter_sha256": gguf_cache.sha256_file(weights) if weights is not None and weights.is_file() else None,
        "tasks": [_task_identity(t) for t in plan.tasks],
        "settings": plan.settings.model_dump(mode="json", exclude={"tasks"}),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def run_lm_eval(plan: RetentionPlan, args: dict[str, Any], device: str, output: Path) -> None:
    """One lm-eval run with samples logged, its files saved as lm-eval's CLI saves them under --output_path."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(output))
    settings = plan.settings
    try:
        with warnings.catch_warnings():
            # peft probes a property transformers 5 deprecated (as in models.attach_adapter); noise to a user.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            results = simple_evaluate(
                model="hf", model_args=args, tasks=plan.tasks, num_fewshot=settings.num_fewshot,
                batch_size=settings.batch_size, device=device, limit=settings.limit, log_samples=True,
                evaluation_tracker=tracker, task_manager=plan.task_manager,
            )
    except (KeyError, ValueError, OSError) as error:  # a task file or its data that lm-eval cannot use
        raise LorabenchError(f"retention: lm-eval could not evaluate {', '.join(plan.settings.tasks)}: {_first_line(error)}") from None
    if results is None:
        raise LorabenchError("retention: lm-eval returned no results (not rank 0?)")
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])


def _side(which: str, plan: RetentionPlan, loaded: LoadedModel, adapter: Path | None, out: Path, force: bool, say: Say) -> float:
    """Evaluate one side into out/retention/<which> unless it is there for the same fingerprint; its seconds."""
    folder = out / FOLDER / which
    stamp = folder / STAMP
    fingerprint = _fingerprint(plan, loaded, adapter)
    if not force and stamp.is_file() and is_lm_eval_output(folder):
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
        if recorded.get("fingerprint") == fingerprint:
            say(f"retention {which}: lm-eval results for these settings exist, reusing them")
            return float(recorded.get("seconds", 0.0))
    if folder.exists():
        shutil.rmtree(folder)  # results of other settings: never mix them
    say(f"retention {which}: lm-eval on {', '.join(plan.settings.tasks)}")
    args = model_args(loaded, adapter)
    start = time.perf_counter()
    run_lm_eval(plan, args, loaded.device, folder)
    seconds = round(time.perf_counter() - start, 2)
    write_json(stamp, {"fingerprint": fingerprint, "seconds": seconds, "model_args": args})
    return seconds


def run_retention(
    plan: RetentionPlan, loaded: LoadedModel, adapter_dir: Path, out: Path, force: bool, say: Say,
    alpha: float = 0.05, resamples: int = 10_000,
) -> RetentionResult:
    """Base, then base + adapter, through lm-eval; then the paired comparison of the two."""
    seconds = {which: _side(which, plan, loaded, adapter, out, force, say) for which, adapter in (("base", None), ("tuned", adapter_dir))}
    base, tuned = read_lm_eval(out / FOLDER / "base"), read_lm_eval(out / FOLDER / "tuned")
    return RetentionResult(compare_lm_eval(base, tuned, alpha=alpha, resamples=resamples), seconds)
