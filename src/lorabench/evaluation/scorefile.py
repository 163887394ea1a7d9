"""`lorabench score`: metrics for predictions made elsewhere, read from a JSON Lines file.

Each line holds `gold` (a string or a list of acceptable strings), `prediction`, and optionally
`id`, `question` and, for multiple choice, `options`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorabench.data.readers import read_jsonl
from lorabench.data.records import TaskKind
from lorabench.core.errors import DataError
from lorabench.core.kinds import get_task
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, TaskMetrics, score_all, score_item


@dataclass(frozen=True)
class PredictionRow:
    where: str
    id: str
    item: ScoreInput
    question: str | None = None


@dataclass
class ScoredFile:
    rows: list[PredictionRow]
    per_item: list[dict[str, float]]
    metrics: TaskMetrics
    skipped: list[DataError] = field(default_factory=list)


def _golds(raw: Any, where: str, task: TaskKind) -> list[str]:
    if isinstance(raw, str):
        if not raw.strip():
            raise DataError(where, "is empty", field="gold")
        return [raw]
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and get_task(task).numeric_gold:
        return [str(raw)]
    if isinstance(raw, list) and all(isinstance(g, str) for g in raw):
        if not raw and not get_task(task).unanswerable:
            raise DataError(where, "is an empty list (only extractive QA has unanswerable questions)", field="gold")
        if any(not g.strip() for g in raw):
            raise DataError(where, "contains an empty answer", field="gold")
        return list(raw)
    if raw is None:
        raise DataError(where, "is missing", field="gold")
    raise DataError(where, f"must be a string or a list of strings, got {type(raw).__name__}", field="gold")


def _parse_row(where: str, row: dict[str, Any], task: TaskKind) -> PredictionRow:
    golds = _golds(row.get("gold"), where, task)
    prediction = row.get("prediction")
    if prediction is None:
        raise DataError(where, "is missing", field="prediction")
    if not isinstance(prediction, str):
        raise DataError(where, f"must be a string, got {type(prediction).__name__}", field="prediction")
    options = row.get("options")
    if options is not None and not (isinstance(options, list) and all(isinstance(o, str) for o in options)):
        raise DataError(where, "must be a list of strings", field="options")
    item = ScoreInput(golds, prediction, options)
    try:
        score_item(task, item)  # surfaces an unusable gold (no number, unknown label) with its line
    except ValueError as exc:
        raise DataError(where, str(exc), field="gold") from None
    return PredictionRow(where, str(row.get("id", where)), item, row.get("question"))


def read_predictions(path: Path, task: TaskKind, skip_invalid: bool = False) -> tuple[list[PredictionRow], list[DataError]]:
    rows, skipped = [], []
    for where, raw in read_jsonl(path):
        try:
            if isinstance(raw, DataError):
                raise raw
            rows.append(_parse_row(where, raw, task))
        except DataError as error:
            if not skip_invalid:
                raise
            skipped.append(error)
    if not rows:
        raise DataError(str(path), "no usable prediction rows")
    return rows, skipped


def score_file(
    path: Path, task: TaskKind | str, settings: ScoreSettings = ScoreSettings(), skip_invalid: bool = False
) -> ScoredFile:
    task = TaskKind(task)
    rows, skipped = read_predictions(Path(path), task, skip_invalid)
    per_item, metrics = score_all(task, [r.item for r in rows], settings)
    return ScoredFile(rows, per_item, metrics, skipped)


def write_metrics(result: ScoredFile, out_dir: Path, source: Path) -> Path:
    """Write `metrics.json` (the shared metric names) and per-item `scores.jsonl` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = result.metrics.to_dict()
    payload["source"] = str(source)
    payload["skipped"] = [{"where": e.where, "field": e.field, "reason": e.reason} for e in result.skipped]
    payload["settings"] = vars(result.metrics.settings)
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    with (out_dir / "scores.jsonl").open("w", encoding="utf-8") as handle:
        for row, scores in zip(result.rows, result.per_item):
            handle.write(json.dumps({"id": row.id, "where": row.where, **scores}) + "\n")
    return metrics_path
