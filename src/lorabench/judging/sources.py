"""Answers to judge, read from what lorabench (or anything else) left on disk: a finished evaluation
folder (`lorabench eval`, or a `run` stage's base/ or tuned/) or a predictions file (JSON Lines with
`gold`, `prediction` and, for the judge, `question`; `id` pairs two files).

The judge should read the question as the model's user did: the task text of the prompt, rebuilt
from the folder's data and prompt settings. When the data cannot be read back (moved, or a file of
predictions made elsewhere without a `question`), the prompt the model read is used as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lorabench.comparison.paired_runs import differences, read_eval
from lorabench.core.errors import DataError, LorabenchError
from lorabench.core.kinds import get_task
from lorabench.data.loaders import load_records
from lorabench.data.readers import read_jsonl
from lorabench.data.records import Record, TaskKind
from lorabench.data.spec import DataSpec
from lorabench.judging.items import JudgeItem, gold_text, question_of
from lorabench.metrics.squad import exact_match
from lorabench.config.prompt import PromptSettings
from lorabench.runs.folder import CONFIG


@dataclass(frozen=True)
class Answer:
    question: str
    golds: list[str]
    prediction: str
    exact_match: float


@dataclass(frozen=True)
class AnswerSet:
    """One side's answers, by item id, in the order they were written."""

    path: Path
    task: TaskKind | None
    answers: dict[str, Answer]
    question_source: str  # "data" (rebuilt task text), "prompt" (what the model read) or "file"


def _records_of_folder(path: Path, config: dict[str, Any], task: TaskKind) -> dict[str, Record] | None:
    """The records a folder's answers are about, when they can still be read."""
    stage_data = path.parent / "data" / "test.jsonl"
    try:
        if config.get("stage") and stage_data.is_file():
            spec = DataSpec(path=str(stage_data), task=task)
        elif isinstance((config.get("request") or {}).get("data"), dict):
            spec = DataSpec.model_validate(config["request"]["data"])
        else:
            return None
        return {r.id: r for r in load_records(spec).records}
    except (LorabenchError, OSError, ValueError):
        return None


def _prompt_settings(settings: dict[str, Any]) -> PromptSettings:
    try:
        return PromptSettings.model_validate(settings.get("prompt") or {})
    except ValueError:
        return PromptSettings()


def read_folder(folder: Path) -> AnswerSet:
    run = read_eval(folder)
    config = yaml.safe_load((Path(folder) / CONFIG).read_text(encoding="utf-8")) or {}
    records = _records_of_folder(Path(folder), config, run.task)
    usable = records is not None and all(row["id"] in records for row in run.rows)
    prompt = _prompt_settings(config.get("request", config))
    answers = {
        row["id"]: Answer(
            question_of(records[row["id"]], prompt) if usable else row["prompt"],  # type: ignore[index]
            [str(g) for g in row["gold"]], row["prediction"], float(row["scores"].get("exact_match", 0.0)),
        )
        for row in run.rows
    }
    return AnswerSet(Path(folder), run.task, answers, "data" if usable else "prompt")


def read_file(path: Path) -> AnswerSet:
    answers: dict[str, Answer] = {}
    for where, raw in read_jsonl(Path(path)):
        if isinstance(raw, DataError):
            raise raw
        golds, prediction, question = raw.get("gold"), raw.get("prediction"), raw.get("question")
        if isinstance(golds, str):
            golds = [golds]
        if not isinstance(golds, list) or not golds or not all(isinstance(g, str) and g.strip() for g in golds):
            raise DataError(where, "must be a non-empty string or list of non-empty strings", field="gold")
        if not isinstance(prediction, str):
            raise DataError(where, "is missing or not a string", field="prediction")
        if not isinstance(question, str) or not question.strip():
            raise DataError(where, "is missing: the judge needs the question each answer answers", field="question")
        item_id = str(raw.get("id", where))
        if item_id in answers:
            raise DataError(where, f"id {item_id!r} appears twice", field="id")
        answers[item_id] = Answer(question, golds, prediction, exact_match(prediction, golds))
    if not answers:
        raise DataError(str(path), "no prediction rows")
    return AnswerSet(Path(path), None, answers, "file")


def read_answers(path: Path) -> AnswerSet:
    """A finished evaluation folder or a predictions file; refused when it is neither."""
    path = Path(path)
    if path.is_dir():
        answers = read_folder(path)
    elif path.is_file():
        answers = read_file(path)
    else:
        raise LorabenchError(f"{path}: no such folder or file; give a finished evaluation folder or a predictions file")
    if answers.task is not None and not get_task(answers.task).text_answers:
        raise LorabenchError(
            f"{path}: a {answers.task.value} run's answers are labels or numbers, which its own metrics already "
            "judge exactly; the judge is for answers in words"
        )
    return answers


def items_of(sides: Sequence[tuple[str, AnswerSet]]) -> list[JudgeItem]:
    """Judge items over one or two answer sets (paired by id, in the first set's order)."""
    (first_name, first), *rest = sides
    for name, other in rest:
        only_first = sorted(set(first.answers) - set(other.answers))
        only_other = sorted(set(other.answers) - set(first.answers))
        if only_first or only_other:
            raise LorabenchError(
                f"{first.path} and {other.path} answered different items (only in {first_name}: {only_first[:3]}, "
                f"only in {name}: {only_other[:3]}); a paired judgment needs the same items"
            )
        golds = [i for i, a in first.answers.items() if a.golds != other.answers[i].golds]
        if golds:
            raise LorabenchError(f"{first.path} and {other.path} have different gold answers (first: item {golds[0]})")
    return [
        JudgeItem(
            item_id, answer.question, gold_text(answer.golds),
            {name: s.answers[item_id].prediction for name, s in sides},
            {name: s.answers[item_id].exact_match for name, s in sides},
        )
        for item_id, answer in first.answers.items()
    ]


def folder_differences(a: Path, b: Path) -> list[str]:
    """Why two evaluation folders are not a clean pair (other prompts, decoding, items); [] for files."""
    if not (Path(a).is_dir() and Path(b).is_dir()):
        return []
    return differences(read_eval(a), read_eval(b))


def items_from_rows(
    records: Sequence[Record], prompt: Any, sides: Sequence[tuple[str, Sequence[Any]]]
) -> list[JudgeItem]:
    """Judge items of a run that holds its records: each side's prediction rows (base, tuned),
    matched by id, the question rebuilt under the run's prompt settings `prompt`."""
    by_side = {name: {row["id"]: row for row in rows} for name, rows in sides}
    items = []
    for record in records:
        rows = {name: by_side[name].get(record.id) for name, _ in sides}
        missing = [name for name, row in rows.items() if row is None]
        if missing:
            raise LorabenchError(f"item {record.id} has no {' or '.join(missing)} answer; the evaluations are incomplete")
        first = next(iter(rows.values()))
        items.append(JudgeItem(
            record.id, question_of(record, prompt), gold_text([str(g) for g in first["gold"]]),
            {name: row["prediction"] for name, row in rows.items()},
            {name: float(row["scores"].get("exact_match", 0.0)) for name, row in rows.items()},
        ))
    return items
