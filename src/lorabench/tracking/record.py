"""What a tracker run gets, read from a finished run folder (or a study folder) and nothing else.

The same reading serves `run --track` at the end of a run and `lorabench track RUN` any time later,
so what arrives in a tracker never depends on which of the two sent it. Pure apart from reading
files: every backend receives the same `TrackedRun`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lorabench.core.errors import LorabenchError
from lorabench.runs.folder import questions_by_id, read_jsonl
from lorabench.results.summary import RunSummary

TRAIN_LOG = Path("train") / "train_log.jsonl"
# Columns of the training log that are curves (step and epoch are their x axes).
_CURVES = ("loss", "lr", "grad_norm", "tokens_per_second", "epoch")
_ARTIFACTS = ("report.html", "summary.json", "summary.csv", "config.yaml")
_STUDY_ARTIFACTS = ("study.html", "study.md", "study.yaml")
# A long value (a system prompt) is cut in a parameter; the whole config travels as config.yaml.
MAX_PARAM_CHARS = 500


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


@dataclass
class TrackedRun:
    """One tracker run's content. `metrics` are numbers (with dotted names: base.f1, compare.f1.p_value);
    `labels` are short strings a tracker shows as tags (verdicts, roles); tables go as each tool
    shows tables; `artifacts` are files uploaded as they are."""

    folder: Path
    name: str
    kind: str  # "run", "eval" or "study"
    params: dict[str, str]
    metrics: dict[str, float]
    labels: dict[str, str]
    curves: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)


def flatten(payload: Any, prefix: str = "") -> dict[str, str]:
    """{'training': {'lr': 0.0002}} -> {'training.lr': '0.0002'}; lists as JSON, long values cut."""
    if isinstance(payload, dict) and payload:
        flat: dict[str, str] = {}
        for key, value in payload.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    if len(text) > MAX_PARAM_CHARS:
        text = text[: MAX_PARAM_CHARS - 1] + "…"
    return {prefix.rstrip("."): text}


def read_run(folder: Path, name: str | None = None) -> TrackedRun:
    """A finished `lorabench run` folder as a tracker run (refused, naming the folder, when it is not
    finished: a tracker must never show half a run as its result)."""
    folder = Path(folder)
    if not (folder / "summary.json").is_file():
        raise LorabenchError(f"{folder}: no summary.json; track a finished `lorabench run` folder "
                             "(an unfinished run is sent when it finishes)")
    summary = RunSummary.read(folder)
    # The rows the run left, read here once: the curves and the tables below are made from them alone.
    log = read_jsonl(folder / TRAIN_LOG)
    questions = questions_by_id(read_jsonl(folder / "data" / "test.jsonl"))
    base, tuned = read_jsonl(folder / "base" / "predictions.jsonl"), read_jsonl(folder / "tuned" / "predictions.jsonl")
    config = _yaml(folder / "config.yaml")
    params = flatten({k: v for k, v in config.items() if k not in ("versions", "engines", "earlier_versions")})
    params.update(flatten({"versions": versions(folder, summary)}))
    metrics, labels = _results(summary)
    return TrackedRun(
        folder=folder, name=name or folder.resolve().name, kind="run", params=params, metrics=metrics, labels=labels,
        curves=curves(log), tables={
            "comparisons": comparison_table(summary), "guards": guard_table(summary),
            "items": item_table(summary, questions, base, tuned),
        },
        artifacts=[folder / f for f in _ARTIFACTS if (folder / f).is_file()],
    )


def versions(folder: Path, summary: RunSummary) -> dict[str, Any]:
    """lorabench, torch, transformers and peft as the tuned evaluation recorded them (the base's when
    the tuned one has none); lorabench's from the summary when no stage recorded it."""
    for stage in ("tuned", "base"):
        found = _yaml(folder / stage / "config.yaml").get("versions")
        if found:
            return {"lorabench": summary.lorabench, **found}
    return {"lorabench": summary.lorabench}


def _results(summary: RunSummary) -> tuple[dict[str, float], dict[str, str]]:
    metrics: dict[str, float] = {}
    for stage, block in (("base", summary.base), ("tuned", summary.tuned)):
        for metric, value in block.values.items():
            if isinstance(value, (int, float)):
                metrics[f"{stage}.{metric}"] = float(value)
            low, high = (block.ci95.get(metric) or [None, None])[:2]
            if low is not None and high is not None:
                metrics[f"{stage}.{metric}.ci_low"], metrics[f"{stage}.{metric}.ci_high"] = float(low), float(high)
    labels: dict[str, str] = {}
    for comparison in summary.comparison:
        data = comparison.model_dump()
        for key in ("difference", "ci_low", "ci_high", "p_value", "p_adjusted", "improved", "regressed", "min_detectable"):
            if isinstance(data.get(key), (int, float)):
                metrics[f"compare.{comparison.metric}.{key}"] = float(data[key])
        labels[f"verdict.{comparison.metric}"] = comparison.verdict
        labels[f"role.{comparison.metric}"] = str(data.get("role") or "")
    verdict = summary.get("verdict") or {}
    if verdict.get("verdict"):
        labels["verdict"] = f"{verdict['verdict']} ({verdict.get('primary_metric')})"
    for guard in summary.guards:
        metrics[f"guard.{guard.name}.ok"] = 1.0 if guard.ok else 0.0
    failed = [g.name for g in summary.guards if not g.ok]
    labels["guards"] = "failed: " + ", ".join(failed) if failed else "all passed"
    for key, value in (summary.sizes.model_dump()).items():
        metrics[f"items.{key}"] = float(value)
    for key, value in (summary.training.model_dump() if summary.training else {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics[f"training.{key}"] = float(value)
    return metrics, labels


def comparison_table(summary: RunSummary) -> Table:
    columns = ["metric", "role", "base", "tuned", "difference", "ci_low", "ci_high", "p_value", "p_adjusted", "test", "verdict"]
    rows = [[c.model_dump().get(k) for k in columns] for c in summary.comparison]
    return Table(columns, rows)


def guard_table(summary: RunSummary) -> Table:
    return Table(["guard", "ok", "message"], [[g.name, g.ok, g.message] for g in summary.guards])


def item_table(
    summary: RunSummary, questions: dict[str, str], base_rows: list[dict[str, Any]], tuned_rows: list[dict[str, Any]]
) -> Table:
    """One row per test item: id, question, gold, both answers and each metric's score of both."""
    base = {row["id"]: row for row in base_rows}
    tuned = {row["id"]: row for row in tuned_rows}
    metrics = [c.metric for c in summary.comparison]
    columns = ["id", "question", "gold", "base_answer", "tuned_answer",
               *[f"base_{m}" for m in metrics], *[f"tuned_{m}" for m in metrics]]
    rows = []
    for item_id, row in base.items():
        other = tuned.get(item_id, {})
        gold = row.get("gold")
        rows.append([
            item_id, questions.get(str(item_id), ""), " | ".join(map(str, gold)) if isinstance(gold, list) else str(gold),
            row.get("prediction"), other.get("prediction"),
            *[(row.get("scores") or {}).get(m) for m in metrics], *[(other.get("scores") or {}).get(m) for m in metrics],
        ])
    return Table(columns, rows)


def curves(log: list[dict[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    """The training curves by step, from the training log's rows: loss, learning rate, grad norm,
    throughput and every validation value (val_loss, val_<metric>) the Trainer logged."""
    found: dict[int, dict[str, float]] = {}
    for row in log:
        if "step" not in row or "train_loss" in row:  # the end-of-training summary is no point of a curve
            continue
        values = {f"train/{k}": float(v) for k, v in row.items()
                  if (k in _CURVES or k.startswith("val_")) and isinstance(v, (int, float)) and not isinstance(v, bool)}
        if values:
            found.setdefault(int(row["step"]), {}).update(values)
    return sorted(found.items())


def read_eval(folder: Path, name: str | None = None) -> TrackedRun:
    """A finished `lorabench eval` folder: its settings and versions, each metric with its interval,
    and one row per item (id, gold, answer, scores)."""
    folder = Path(folder)
    if not (folder / "metrics.json").is_file():
        raise LorabenchError(f"{folder}: no metrics.json; track a finished `lorabench eval` folder")
    scores = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    config = _yaml(folder / "config.yaml")
    params = flatten({k: v for k, v in config.items() if k not in ("versions", "engines", "earlier_versions")})
    params.update(flatten({"versions": config.get("versions") or scores.get("versions") or {}}))
    metrics: dict[str, float] = {"items.test": float(scores.get("n") or 0)}
    ci95 = scores.get("ci95") or {}
    for metric in ci95:
        if isinstance(scores.get(metric), (int, float)):
            metrics[metric] = float(scores[metric])
        low, high = (ci95.get(metric) or [None, None])[:2]
        if low is not None and high is not None:
            metrics[f"{metric}.ci_low"], metrics[f"{metric}.ci_high"] = float(low), float(high)
    rows = read_jsonl(folder / "predictions.jsonl")
    names = list(ci95)
    items = Table(["id", "gold", "answer", *names], [
        [row.get("id"), " | ".join(map(str, row.get("gold") or [])), row.get("prediction"),
         *[(row.get("scores") or {}).get(m) for m in names]] for row in rows
    ])
    return TrackedRun(
        folder=folder, name=name or folder.resolve().name, kind="eval", params=params, metrics=metrics, labels={},
        tables={"items": items}, artifacts=[folder / f for f in ("metrics.json", "config.yaml") if (folder / f).is_file()],
    )


def read_folder(folder: Path, name: str | None = None) -> TrackedRun:
    """A finished run or eval folder, by what it holds."""
    if (Path(folder) / "summary.json").is_file() or not (Path(folder) / "metrics.json").is_file():
        return read_run(folder, name)
    return read_eval(folder, name)


def read_study(folder: Path, name: str | None = None) -> TrackedRun:
    """A study folder as the parent tracker run of its cells: its settings, and its tables (the
    cells' selection with validation choice, spread over seeds and Holm-adjusted p)."""
    folder = Path(folder)
    if not (folder / "study.yaml").is_file():
        raise LorabenchError(f"{folder}: no study.yaml; is it a `lorabench study` folder?")
    params = flatten(_yaml(folder / "study.yaml"))
    tables = {path.stem: _csv_table(path) for path in sorted((folder / "tables").glob("*.csv"))}
    return TrackedRun(
        folder=folder, name=name or folder.resolve().name, kind="study", params=params, metrics={}, labels={},
        tables=tables, artifacts=[folder / f for f in _STUDY_ARTIFACTS if (folder / f).is_file()],
    )


def study_cells(folder: Path) -> list[Path]:
    """The study's finished run folders (its cells with their seeds), in name order."""
    return sorted(p.parent for p in (Path(folder) / "runs").glob("*/summary.json"))


def _csv_table(path: Path) -> Table:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return Table(rows[0] if rows else [], [[_number(v) for v in row] for row in rows[1:]])


def _number(text: str) -> Any:
    """A CSV cell as the number it spells, else as text (an id like '007' stays text)."""
    for kind in (int, float):
        try:
            value = kind(text)
        except ValueError:
            continue
        return value if kind is float or str(value) == text else text
    return text


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return loaded if isinstance(loaded, dict) else {}
