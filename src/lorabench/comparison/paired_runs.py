"""`lorabench compare RUN_A RUN_B`: two finished evaluations of the same items, compared paired.

A run folder is either one written by `lorabench eval` or a stage of `lorabench run` (base/,
tuned/). A paired comparison is only meaningful when both answered the same items under the same
prompts and decoding; anything else is refused unless the user asks to compare anyway, and then
every difference is listed next to the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorabench.comparison.paired import MetricComparison, compare_rows
from lorabench.data.records import TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from lorabench.core.messages import Hint, Message
from lorabench.comparison.items import ItemPair, pair_items
from lorabench.metrics.scoring import SCORING_VERSION, TASK_METRICS, ScoreSettings, TaskMetrics, aggregate
from lorabench.runs.predictions import PredictionRow, read_predictions
from lorabench.runs.folder import CONFIG, METRICS, PREDICTIONS


@dataclass
class FinishedEval:
    """A complete evaluation read back from its folder."""

    path: Path
    task: TaskKind
    name: str  # model (and adapter) as the folder's config describes it
    rows: list[PredictionRow]
    prompt: dict[str, Any]
    decoding: dict[str, Any]
    scoring_version: int = SCORING_VERSION
    engines: list[dict[str, Any]] = field(default_factory=list)  # how its answers were generated (none: not recorded)
    versions: list[dict[str, Any]] = field(default_factory=list)  # library versions of every session that made it
    precision: str | None = None  # the dtype the model computed in (config.yaml's model.dtype); None: not recorded


def read_eval(folder: str | Path) -> FinishedEval:
    """Read a finished run folder; an unfinished or foreign one is an error saying which."""
    path = Path(folder)
    for name in (CONFIG, PREDICTIONS, METRICS):
        if not (path / name).exists():
            hint = " (unfinished: rerun the same command to complete it)" if name == METRICS else ""
            raise LorabenchError(f"{path}: no {name}; not a finished lorabench evaluation folder{hint}")
    config = yaml.safe_load((path / CONFIG).read_text(encoding="utf-8")) or {}
    metrics = json.loads((path / METRICS).read_text(encoding="utf-8"))
    # `lorabench eval` keeps the request under "request"; a `run` stage keeps the settings at the top.
    settings = config.get("request", config)
    rows = read_predictions(path / PREDICTIONS)
    task = TaskKind(metrics["task"])
    lacking = sorted({m for r in rows for m in TASK_METRICS[task] if m not in r["scores"]})
    if lacking:
        raise LorabenchError(Message(
            f"{path}: its rows have no {', '.join(lacking)} (scored by an older lorabench); "
            "rerun that evaluation with ", Hint("force"), " to score it with today's metrics",
        ))
    model = config.get("model") or {}
    name = str(model.get("name", "?")) + (f" + adapter {model['adapter']}" if model.get("adapter") else "")
    return FinishedEval(
        path=path, task=task, name=name, rows=rows,
        prompt=settings.get("prompt") or {}, decoding=settings.get("decoding") or {},
        # Folders from before the version was recorded used definitions version 1.
        scoring_version=(config.get("scoring") or {}).get("version", config.get("scoring_version", 1)),
        engines=list(config.get("engines") or metrics.get("engines") or []),
        versions=[v for v in [config.get("versions") or metrics.get("versions"), *(config.get("earlier_versions") or [])] if v],
        precision=model.get("dtype"),
    )


@dataclass
class RunComparison:
    a: FinishedEval
    b: FinishedEval
    n: int
    comparisons: list[MetricComparison]
    metrics_a: TaskMetrics
    metrics_b: TaskMetrics
    pairs: list[ItemPair]
    differences: list[str] = field(default_factory=list)  # what made the runs not comparable (forced)
    warnings: list[str] = field(default_factory=list)  # made differently in ways that should not matter (see how_made_warnings)


def _setting_differences(what: str, a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [f"{what}.{key}: {a.get(key)!r} vs {b.get(key)!r}" for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def differences(a: FinishedEval, b: FinishedEval) -> list[str]:
    """Every reason the two runs are not a clean paired comparison, most important first."""
    found = []
    if a.task is not b.task:
        found.append(f"task: {a.task.value} vs {b.task.value}")
    if a.scoring_version != b.scoring_version:
        found.append(Message(f"metric definitions: version {a.scoring_version} vs {b.scoring_version} "
                             "(rerun the older one with ", Hint("force"), ")"))
    ids_a, ids_b = [r["id"] for r in a.rows], [r["id"] for r in b.rows]
    only_a, only_b = sorted(set(ids_a) - set(ids_b)), sorted(set(ids_b) - set(ids_a))
    if only_a or only_b:
        found.append(f"items: {len(only_a)} only in {a.path} (e.g. {only_a[:2]}), {len(only_b)} only in {b.path} (e.g. {only_b[:2]})")
    found += _setting_differences("prompt", a.prompt, b.prompt)
    # The engine changes how answers are generated, not what they are: a warning, not a refusal.
    found += _setting_differences("decoding", _without_engine(a.decoding), _without_engine(b.decoding))
    prompts_b = {r["id"]: r["prompt"] for r in b.rows}
    differing = [r["id"] for r in a.rows if r["id"] in prompts_b and r["prompt"] != prompts_b[r["id"]]]
    if differing:
        found.append(f"prompt text differs on {len(differing)} items (first: {differing[0]})")
    return found


def _without_engine(decoding: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decoding.items() if k != "engine"}


def _engines_text(engines: list[dict[str, Any]]) -> str:
    if not engines:
        return "not recorded"
    return ", ".join(
        f"{e['engine']} ({e['items']} items" + (f": {e['reason']}" if e.get("reason") else "") + ")" for e in engines
    )


def how_made_warnings(a: FinishedEval, b: FinishedEval) -> list[str]:
    """Two folders whose answers were generated by different engines, or made with different
    torch / transformers / peft / lorabench releases: both should give the same greedy answers,
    but a difference between the runs may come from there rather than from the models."""
    warnings = []
    used_a, used_b = ({e["engine"] for e in run.engines} for run in (a, b))
    if (a.engines or b.engines) and used_a != used_b:
        warnings.append(f"generated by different engines: A {_engines_text(a.engines)}; B {_engines_text(b.engines)}")
    libraries = sorted({name for run in (a, b) for versions in run.versions for name in versions})
    for name in libraries:
        seen_a = sorted({str(v.get(name)) for v in a.versions})
        seen_b = sorted({str(v.get(name)) for v in b.versions})
        if a.versions and b.versions and (seen_a != seen_b or len(seen_a) > 1):
            warnings.append(f"made with different {name} versions: A {', '.join(seen_a)}; B {', '.join(seen_b)}")
    if bool(a.versions) != bool(b.versions):
        recorded, missing = (a, b) if a.versions else (b, a)
        warnings.append(f"library versions recorded for {recorded.path} only ({missing.path} predates the record)")
    return warnings


def precision_change(a: FinishedEval, b: FinishedEval) -> str | None:
    """How the two runs' precisions differ (`float32 vs bfloat16`), or None when they are the same or
    either folder does not record one."""
    if a.precision is None or b.precision is None or a.precision == b.precision:
        return None
    return f"{a.precision} vs {b.precision}"


def compare_evals(
    a: FinishedEval, b: FinishedEval, anyway: bool = False, alpha: float = 0.05, resamples: int = 10_000, seed: int = 0,
    correction: str = "none", allow_precision_change: bool = False,
) -> RunComparison:
    """Paired comparison of b against a (b - a) on the items both answered. Runs made at different
    precisions are refused unless `allow_precision_change` (then the first warning says so): a
    bfloat16 model can answer near ties otherwise than a float32 one, so part of the difference
    would be the precision's, not the models'."""
    found = differences(a, b)
    if a.task is not b.task:
        raise LorabenchError(f"cannot compare a {a.task.value} run with a {b.task.value} run")
    if found and not anyway:
        raise LorabenchError(Message(
            "the runs are not a paired comparison: ", Message("; ").join(found),
            ". Rerun with the same items, prompts and decoding, or pass ", Hint("anyway"),
            " to compare the common items regardless",
        ))
    precisions = precision_change(a, b)
    if precisions and not allow_precision_change:
        raise LorabenchError(Message(
            f"the runs were made at different precisions (model.dtype {precisions}): part of any difference would be "
            "the precision's, not the models'. Rerun one at the other's model.dtype, or pass ",
            Hint("allow_precision_change"), " to compare them anyway",
        ), field="allow_precision_change")
    common = {r["id"] for r in b.rows}
    rows_a = [r for r in a.rows if r["id"] in common]
    by_id_b = {r["id"]: r for r in b.rows}
    rows_b = [by_id_b[r["id"]] for r in rows_a]
    if not rows_a:
        raise LorabenchError(f"{a.path} and {b.path} share no items; there is nothing to compare")
    settings = ScoreSettings()

    def metrics_of(rows: list[PredictionRow]) -> TaskMetrics:
        per_item = [r["scores"] for r in rows]
        return TaskMetrics(a.task, len(rows), aggregate(a.task, per_item, settings), settings=settings)

    return RunComparison(
        a=a, b=b, n=len(rows_a),
        comparisons=compare_rows(get_task(a.task), rows_a, rows_b, alpha=alpha, resamples=resamples, seed=seed, correction=correction),
        metrics_a=metrics_of(rows_a), metrics_b=metrics_of(rows_b),
        pairs=pair_items(a.task, rows_a, rows_b), differences=found,
        warnings=[*([f"compared across precisions, as allowed: A {a.precision}, B {b.precision}; "
                     "part of the difference may be the precision's"] if precisions else []), *how_made_warnings(a, b)],
    )
