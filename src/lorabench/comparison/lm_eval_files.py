"""Read what lm-evaluation-harness 0.4.x writes with `--log_samples`, as per-task tables of per-sample scores.

Under `--output_path DIR` lm-eval writes `DIR/<model>/results_<date>.json` and, per task,
`DIR/<model>/samples_<task>_<date>.jsonl`: one line per document (per filter), with its
`doc_id`, `doc_hash`, `prompt_hash`, the names of its per-sample `metrics` and their values.
An output path ending in `.json` gives `<stem>_<date>.json` with the samples beside it instead.
Any of those three (the folder, a results file, one samples file) is read here; lm-eval itself
need not be installed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorabench.core.errors import DataError, LorabenchError

# The date lm-eval stamps on a run's files: datetime.now().isoformat() with ':' replaced by '-'.
_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_RESULTS_NAME = re.compile(rf"^(?P<stem>.+)_(?P<date>{_DATE})\.json$")
_SAMPLES_NAME = re.compile(rf"^samples_(?P<task>.+)_(?P<date>{_DATE})\.jsonl$")
_REQUIRED = ("doc_id", "doc_hash", "prompt_hash", "metrics")
# A reported aggregate and the mean of the per-sample values agree to float rounding when the
# metric is a mean (acc, exact_match); perplexity, BLEU or F1 over the corpus do not.
_MEAN_TOLERANCE = 1e-6

DocId = int | str


@dataclass
class TaskSamples:
    """One task's logged samples: the scores of each comparable metric by doc_id, and each document's hashes."""

    task: str
    file: Path
    doc_hash: dict[DocId, str]
    prompt_hash: dict[DocId, str]
    # "acc", or "exact_match,strict-match" for a filter other than lm-eval's default "none"
    scores: dict[str, dict[DocId, float]]
    lower_is_better: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)  # metrics without a paired test, each with the reason


@dataclass
class LmEvalRun:
    """One lm-eval run read back: its tasks' samples, and which files they came from."""

    path: Path  # as the user gave it
    results: Path | None  # None when only a samples file was given and none lies beside it
    model: str
    tasks: dict[str, TaskSamples]
    notes: list[str] = field(default_factory=list)


def _results_files(folder: Path) -> list[Path]:
    """lm-eval results files in `folder` or, as the CLI writes them, one level down in the model's folder."""
    direct = sorted(p for p in folder.glob("*.json") if _RESULTS_NAME.match(p.name) and p.name.startswith("results_"))
    if direct:
        return direct
    return sorted(p for p in folder.glob("*/results_*.json") if _RESULTS_NAME.match(p.name))


def is_lm_eval_output(path: Path) -> bool:
    """Whether `path` looks like lm-eval output (a samples or results file, or a folder of them)."""
    path = Path(path)
    if path.is_dir():
        return bool(_results_files(path)) or any(_SAMPLES_NAME.match(p.name) for p in path.glob("samples_*.jsonl"))
    if _SAMPLES_NAME.match(path.name):
        return True
    return path.suffix == ".json" and path.is_file() and _looks_like_results(path)


def _looks_like_results(path: Path) -> bool:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(payload, dict) and "results" in payload and "configs" in payload


def read_lm_eval(path: str | Path) -> LmEvalRun:
    """Read an lm-eval output folder, results file or samples file; every problem is one LorabenchError."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if _SAMPLES_NAME.match(path.name):
        return _read_samples_only(path)
    return _read_results_run(path, path)


def _read_folder(folder: Path) -> LmEvalRun:
    found = _results_files(folder)
    if not found:
        samples = sorted(p for p in folder.glob("samples_*.jsonl") if _SAMPLES_NAME.match(p.name))
        if len(samples) == 1:
            return _read_samples_only(samples[0], given=folder)
        raise LorabenchError(
            f"{folder}: no lm-eval results_*.json here or one folder down; give the results file or one samples file"
        )
    parents = sorted({p.parent for p in found})
    if len(parents) > 1:
        names = ", ".join(str(p) for p in parents)
        raise LorabenchError(f"{folder}: holds lm-eval runs of several models ({names}); give one of those folders")
    latest = max(found, key=lambda p: _RESULTS_NAME.match(p.name).group("date"))  # type: ignore[union-attr]
    run = _read_results_run(latest, folder)
    if len(found) > 1:
        run.notes.append(f"{folder} holds {len(found)} lm-eval runs; read the latest, {latest.name}")
    return run


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise LorabenchError(f"{path}: no such file")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LorabenchError(f"{path}: not valid JSON ({error}); is the file complete?") from None
    if not isinstance(payload, dict) or "results" not in payload or "configs" not in payload:
        raise LorabenchError(f"{path}: not an lm-eval results file (no 'results' and 'configs')")
    return payload


def _model_name(results: dict[str, Any]) -> str:
    """The model as lm-eval's run described it: pretrained weights, and the PEFT adapter if any."""
    args = (results.get("config") or {}).get("model_args") or {}
    if isinstance(args, str):  # the CLI's "pretrained=x,peft=y" form
        args = dict(part.split("=", 1) for part in args.split(",") if "=" in part)
    name = str(args.get("pretrained") or results.get("model_name") or (results.get("config") or {}).get("model") or "?")
    return f"{name} + peft {args['peft']}" if args.get("peft") else name


def _read_results_run(results_file: Path, given: Path) -> LmEvalRun:
    results = _load_json(results_file)
    match = _RESULTS_NAME.match(results_file.name)
    date = match.group("date") if match else None
    tasks = {}
    for task in results["configs"]:
        samples = _samples_file(results_file.parent, task, date)
        if samples is None:
            raise LorabenchError(
                f"{results_file}: no samples logged for task {task} (no samples_{task}_*.jsonl beside it); "
                "rerun lm-eval with --log_samples"
            )
        tasks[task] = read_samples(samples, task, results)
    if not tasks:
        raise LorabenchError(f"{results_file}: lists no tasks")
    return LmEvalRun(given, results_file, _model_name(results), tasks)


def _samples_file(folder: Path, task: str, date: str | None) -> Path | None:
    """The task's samples file of the same run (same date stamp); any single one when the results file was renamed."""
    if date is not None:
        exact = folder / f"samples_{task}_{date}.jsonl"
        return exact if exact.is_file() else None
    candidates = [p for p in folder.glob("samples_*.jsonl") if (m := _SAMPLES_NAME.match(p.name)) and m.group("task") == task]
    return candidates[0] if len(candidates) == 1 else None


def _read_samples_only(samples: Path, given: Path | None = None) -> LmEvalRun:
    """A single samples file; a results file of the same run beside it adds the metric directions."""
    match = _SAMPLES_NAME.match(samples.name)
    assert match is not None
    task, date = match.group("task"), match.group("date")
    beside = [p for p in samples.parent.glob(f"*_{date}.json") if _RESULTS_NAME.match(p.name)]
    results = _load_json(beside[0]) if len(beside) == 1 else {}
    notes = [] if results else [f"{samples}: no results file of the same run beside it; metrics taken as higher-is-better means"]
    model = _model_name(results) if results else "?"
    return LmEvalRun(given or samples, beside[0] if results else None, model, {task: read_samples(samples, task, results)}, notes)


def _is_score(value: Any) -> bool:
    return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value))


def _parse_line(samples: Path, number: int, text: str) -> dict[str, Any]:
    where = f"{samples}:{number}"
    try:
        line = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(where, f"not valid JSON ({error.msg}); a truncated line? rerun that lm-eval task") from None
    if not isinstance(line, dict):
        raise DataError(where, f"expected a JSON object per line, got {type(line).__name__}")
    for key in _REQUIRED:
        if key not in line:
            raise DataError(where, "missing; not a samples line written by lm-eval 0.4 with --log_samples", field=key)
    if not isinstance(line["doc_id"], (int, str)) or isinstance(line["doc_id"], bool):
        raise DataError(where, f"expected an integer or a string, got {line['doc_id']!r}", field="doc_id")
    if not isinstance(line["metrics"], list):
        raise DataError(where, "expected the list of the line's metric names", field="metrics")
    for metric in line["metrics"]:
        if metric not in line:
            raise DataError(where, "listed in 'metrics' but has no value", field=str(metric))
    return line


def read_samples(samples: Path, task: str, results: dict[str, Any] | None = None) -> TaskSamples:
    """One samples file; `results` (the run's results file) gives each metric's direction and
    reported value, against which a metric's per-sample values are checked to be its mean."""
    results = results or {}
    doc_hash: dict[DocId, str] = {}
    prompt_hash: dict[DocId, str] = {}
    values: dict[str, dict[DocId, Any]] = {}
    seen: set[tuple[DocId, str]] = set()
    with samples.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            line = _parse_line(samples, number, text)
            doc_id, filter_name = line["doc_id"], str(line.get("filter", "none"))
            if (doc_id, filter_name) in seen:
                raise DataError(f"{samples}:{number}", f"doc_id {doc_id!r} appears twice", field="doc_id")
            seen.add((doc_id, filter_name))
            doc_hash[doc_id], prompt_hash[doc_id] = str(line["doc_hash"]), str(line["prompt_hash"])
            for metric in line["metrics"]:
                label = metric if filter_name == "none" else f"{metric},{filter_name}"
                values.setdefault(label, {})[doc_id] = line[metric]
    if not doc_hash:
        raise LorabenchError(f"{samples}: no samples in the file; rerun lm-eval with --log_samples")
    reported = (results.get("results") or {}).get(task) or {}
    directions = (results.get("higher_is_better") or {}).get(task) or {}
    table = TaskSamples(task, samples, doc_hash, prompt_hash, {})
    for label, by_doc in values.items():
        metric, _, filter_name = label.partition(",")
        reason = _not_comparable(by_doc, reported.get(f"{metric},{filter_name or 'none'}"))
        if reason:
            table.skipped.append(f"{task}/{label}: {reason}; not compared")
            continue
        table.scores[label] = {doc: float(v) for doc, v in by_doc.items()}
        if directions.get(metric) is False:
            table.lower_is_better.add(label)
    return table


def _not_comparable(by_doc: dict[DocId, Any], reported: Any) -> str | None:
    """Why a metric's per-sample values support no paired test of the reported metric, if they do not."""
    odd = next((v for v in by_doc.values() if not _is_score(v)), None)
    if odd is not None:
        return f"its per-sample values are not scores (e.g. {json.dumps(odd)[:40]}), lm-eval aggregates them over the corpus"
    mean = sum(by_doc.values()) / len(by_doc)
    if _is_score(reported) and abs(mean - reported) > _MEAN_TOLERANCE:
        return f"its reported value {reported:.4g} is not the mean of its per-sample values ({mean:.4g})"
    return None
