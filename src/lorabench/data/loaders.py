"""Turn a `DataSpec` into validated records: read rows, map columns to record fields, select.

The first row decides how columns become fields: the task's own field names (and their aliases)
when it has them, else one of the shapes in `lorabench.data.shapes` (chat messages, prompt /
completion, Alpaca), or the one `data.preset` names. A first row that is none of these is an error
listing what was tried.

Every row either becomes a record, or fails with a `DataError` that names where it is and which
record field is to blame; with `skip_invalid` the failure is kept in `LoadResult.skipped`.
Nothing is dropped silently: excluded SQuAD v2 questions are counted too.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lorabench.data import readers, shapes
from lorabench.data.readers import Row, json_cell
from lorabench.data.shapes import Shape
from lorabench.data.records import Record, TaskKind, option_labels
from lorabench.data.spec import ID_ALIASES, DataSpec, slice_range
from lorabench.core.errors import DataError
from lorabench.core.kinds import Task, get_task

_OPTIONAL_TEXT = {"title", "category"}  # an empty cell here means "none", not an invalid record
_DERIVED = ("id", "final")  # required by the record, but made by the loader or the record itself
_LABEL_PREFIX = re.compile(r"^\(?([A-Za-z])[).:]\s")


@dataclass(frozen=True)
class Skipped:
    """A row left out under `skip_invalid`, with the reason it would otherwise have failed."""

    where: str
    field: str | None
    reason: str


@dataclass
class LoadResult:
    """The records of one source, plus an honest account of what was left out and why."""

    records: list[Record]
    skipped: list[Skipped]
    excluded_unanswerable: int
    source: str
    task: TaskKind | None = None
    rows_read: int = 0
    selection: list[str] = dataclass_field(default_factory=list)

    def summary(self) -> str:
        """One line for logs, e.g. 'dev.json: 950 extractive records from 953 rows; 3 invalid skipped'."""
        kind = f" {self.task.value}" if self.task else ""
        parts = [f"{self.source}: {len(self.records)}{kind} records from {self.rows_read} rows"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} invalid skipped")
        if self.excluded_unanswerable:
            parts.append(f"{self.excluded_unanswerable} unanswerable excluded")
        return "; ".join(parts + self.selection)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _mapping(spec: DataSpec) -> dict[str, list[str]]:
    """Explicit record field -> source column(s); `question_field` is a mapping of `question`."""
    mapping = {name: [c.strip() for c in column.split(",")] if name == "options" else [column]
               for name, column in spec.fields.items()}
    if spec.question_field == "rephrased_question" and "question" not in mapping:
        mapping["question"] = ["rephrased_question"]
    return mapping


def _letter_columns(row: Row) -> list[str] | None:
    # MMLU-style CSVs spread options over columns A, B, C, D (or option_a, ...).
    columns = []
    for label in option_labels(26):
        found = next((c for c in (label, label.lower(), f"option_{label.lower()}", f"option_{label}") if c in row), None)
        if found is None:
            break
        columns.append(found)
    return columns if len(columns) >= 2 else None


def _lookup(name: str, row: Row, task: Task, mapping: dict[str, list[str]]) -> tuple[str | None, Any]:
    """The (column, value) for a record field, or (None, None) when the row does not have it."""
    if name in mapping:
        columns = mapping[name]
        if len(columns) > 1:
            return ",".join(columns), [row.get(c) for c in columns]
        return columns[0], row.get(columns[0])
    candidates = ID_ALIASES if name == "id" else task.field_aliases.get(name, (name,))
    for column in (name, *candidates):
        if column in row and not _missing(row[column]) and not (name == "id" and row[column] == ""):
            return column, row[column]
    if name == "options":
        letters = _letter_columns(row)
        if letters:
            return ",".join(letters), [row[c] for c in letters]
    return None, None


def _looked_for(name: str, task: Task, mapping: dict[str, list[str]]) -> str:
    looked = mapping.get(name) or (name, *task.field_aliases.get(name, ()))
    return f"looked for column {' or '.join(map(repr, dict.fromkeys(looked)))}"


def _absent(row: Row, task: Task, mapping: dict[str, list[str]]) -> list[str]:
    """The required record fields that the row has no value for."""
    return [name for name, info in task.record_type.model_fields.items()
            if info.is_required() and name not in _DERIVED and _missing(_lookup(name, row, task, mapping)[1])]


def answer_list(value: Any) -> Any:
    """Gold answers in any common shape (a string, a list, a JSON list, HF squad's {"text": [...]}) as a list."""
    value = json_cell(value)
    if isinstance(value, dict):  # HF squad: {"text": [...], "answer_start": [...]}
        value = value.get("text", [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        texts = [item.get("text") if isinstance(item, dict) else item for item in value]
        return list(dict.fromkeys(texts))
    return value


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "1.0"):
        return True
    if text in ("false", "0", "no", "", "0.0"):
        return False
    raise DataError(where, f"expected true or false, got {value!r}", "unanswerable")


def _options(value: Any, where: str) -> tuple[Any, list[str] | None]:
    """Options as a list, plus the source's own labels when it has them (ARC labels choices 1-4)."""
    value = json_cell(value)
    labels = None
    if isinstance(value, dict) and isinstance(value.get("text"), list):
        labels = [str(label).strip() for label in value.get("label") or []] or None
        value = value["text"]
    elif isinstance(value, dict):
        keys = sorted(str(key).strip().upper() for key in value)
        if keys != option_labels(len(keys)):
            raise DataError(where, f"option keys must be A, B, C, ... in sequence; got {', '.join(map(str, value))}",
                            "options")
        value = [v for _, v in sorted((str(k).strip().upper(), v) for k, v in value.items())]
    if not isinstance(value, (list, tuple)):
        raise DataError(where, f"expected a list or an {{A: ..., B: ...}} object, got {type(value).__name__}",
                        "options")
    numeric = (int, float)
    return [str(o) if isinstance(o, numeric) and not isinstance(o, bool) else o for o in value], labels


def _choice_answer(answer: Any, options: list[Any], source_labels: list[str] | None, where: str) -> Any:
    """Turn an index, a source label, an option's text or 'B) text' into our label A, B, C..."""
    if isinstance(answer, float) and answer.is_integer():
        answer = int(answer)
    labels = option_labels(min(len(options), 26))
    if isinstance(answer, int) and not isinstance(answer, bool):  # MMLU: 0-based index
        if not 0 <= answer < len(options):
            raise DataError(where, f"index {answer} is out of range for {len(options)} options", "answer")
        return labels[answer]
    if not isinstance(answer, str):
        return answer
    text = answer.strip()
    if source_labels and text in source_labels and source_labels.index(text) < len(labels):
        return labels[source_labels.index(text)]
    if text.upper() in labels:
        return text.upper()
    for label, option in zip(labels, options):
        if isinstance(option, str) and option.strip().casefold() == text.casefold():
            return label
    prefix = _LABEL_PREFIX.match(text)
    if prefix and prefix.group(1).upper() in labels:
        return prefix.group(1).upper()
    return answer


def _fields(
    row: Row, where: str, task: Task, mapping: dict[str, list[str]], shape: Shape | None = None
) -> tuple[dict, dict]:
    """The record's data from one row, and which column each field came from (for messages)."""
    model = task.record_type
    data: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if name == "extra":
            continue
        column, value = _lookup(name, row, task, mapping)
        if _missing(value) or (name in _OPTIONAL_TEXT and value == ""):
            if info.is_required() and name not in _DERIVED:
                raise DataError(where, f"missing ({_looked_for(name, task, mapping)})", name)
            continue
        data[name], columns[name] = value, column or name
    if "history" in data:
        data["history"] = shapes.turns(data["history"], where)
    data = task.prepare_fields(data, where)
    if isinstance(data.get("id"), float) and data["id"].is_integer():
        data["id"] = int(data["id"])  # pandas turns integer id columns with gaps into floats
    extra = _extra_columns(row, columns, shape)
    if extra:
        data["extra"] = extra
    return data, columns


def _extra_columns(row: Row, columns: dict[str, str], shape: Shape | None) -> dict[str, Any]:
    """The row's columns no record field took, for prompt templates. A saved split keeps them
    under "extra" (see records.record_to_row), which reads back as they were."""
    used = {part for column in columns.values() for part in column.split(",")}
    if shape is not None:  # the columns the shape made the record's text from
        used |= {*shape.needs, *shapes.MADE_COLUMNS, *([shape.context] if shape.context else [])}
    extra = {k: None if _missing(v) else v for k, v in row.items() if k not in used and k != "extra"}
    saved = row.get("extra")
    if isinstance(saved, dict):
        extra.update(saved)
    elif saved is not None:
        extra["extra"] = saved
    return extra


def prepare_extractive_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Answers in any common shape (a string, a list, HF squad's dict) and the unanswerable flag."""
    if "answers" in data:
        data["answers"] = answer_list(data["answers"])
    if "unanswerable" in data:
        data["unanswerable"] = _flag(data["unanswerable"], where)
    elif data.get("answers") == []:
        data["unanswerable"] = True  # HF squad_v2 marks unanswerable only by empty answers
    return data


def prepare_choice_fields(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Options as a list (or option columns), and the answer as a label whatever the source used."""
    data["options"], labels = _options(data["options"], where)
    data["answer"] = _choice_answer(data["answer"], data["options"], labels, where)
    return data


def _content_id(stem: str, task: TaskKind, data: dict[str, Any]) -> str:
    # Hash the content, not the position, so ids survive reordering and re-slicing of the source.
    content = {k: v for k, v in data.items() if k not in ("id", "final", "extra")}
    text = json.dumps({"task": task.value, **content}, sort_keys=True, ensure_ascii=False, default=str)
    return f"{stem}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:10]}"


def _origin(column: str, shape: Shape | None) -> str:
    """Where a field's value came from, for messages: a column, or a part of a conversation."""
    made = shape.origins.get(column) if shape is not None else None
    return made or f"column '{column}'"


def _translate(
    exc: ValidationError, where: str, fields: list[str], columns: dict[str, str], shape: Shape | None
) -> DataError:
    """A pydantic error as a DataError naming the record field (model validators put it in the message)."""
    errors = exc.errors()
    first = errors[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    name = str(first["loc"][0]) if first["loc"] else None
    prefix = re.match(r"^(\w+): (.*)$", message, re.S)
    if prefix and prefix.group(1) in fields and name in (None, prefix.group(1)):
        name, message = prefix.group(1), prefix.group(2)
    if len(first["loc"]) > 1:
        message += f" (item {first['loc'][1]})"
    if name in columns and columns[name] != name:
        message += f" (from {_origin(columns[name], shape)})"
    if len(errors) > 1:
        message += f"; and {len(errors) - 1} more problem(s)"
    return DataError(where, message, name)


def _stem(spec: DataSpec) -> str:
    raw = Path(spec.path).stem if spec.path is not None else str(spec.hf).rstrip("/").split("/")[-1]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw) or "row"


def _select(records: list[Record], spec: DataSpec, source: str) -> tuple[list[Record], list[str]]:
    """Apply `slice`, then a seeded `sample` that keeps source order."""
    notes = []
    if spec.slice is not None:
        total = len(records)
        records = [records[i] for i in slice_range(spec.slice, total)]
        if not records:
            raise DataError(source, f"slice {spec.slice} selects no records out of {total}")
        notes.append(f"slice {spec.slice} kept {len(records)}")
    if spec.sample is not None:
        if spec.sample < len(records):
            chosen = sorted(random.Random(spec.seed).sample(range(len(records)), spec.sample))
            notes.append(f"sampled {spec.sample} of {len(records)} (seed {spec.seed})")
            records = [records[i] for i in chosen]
        else:
            notes.append(f"sample {spec.sample} asked for, only {len(records)} available: kept all")
    return records, notes


def _lacking(spec: DataSpec, task: Task, absent: list[str], mapping: dict[str, list[str]]) -> str:
    """The task's own record fields, and how the first row lacks `absent` of them, for the error
    of a row that has no known shape either."""
    needed = [name for name, info in task.record_type.model_fields.items()
              if info.is_required() and name not in _DERIVED]
    lacking = "; ".join(f"no {name}: {_looked_for(name, task, mapping)}" for name in absent)
    return f"{spec.task.value} records ({', '.join(needed)}; {lacking})"


def load_records(spec: DataSpec) -> LoadResult:
    """Read, validate and select the records `spec` describes; see the module docstring for errors."""
    return load_task_records(get_task(spec.task), spec)


def load_task_records(task: Task, spec: DataSpec) -> LoadResult:
    """`load_records` by `spec`'s Task, for a caller that has it already (a run looks it up once)."""
    source, mapping, stem = spec.source_name, _mapping(spec), _stem(spec)
    model = task.record_type
    fields = list(model.model_fields)
    shape: Shape | None = None
    records: list[Record] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    derived: dict[str, int] = {}
    excluded = rows = 0
    checked = False
    for where, row in readers.read_source(spec):
        rows += 1
        if isinstance(row, dict) and not checked:
            # The task's own fields win when the row has them, so files that loaded before any shape
            # existed load the same records; skipping reads the row as the task's own fields, as it always did.
            absent = _absent(row, task, mapping) if spec.preset == "auto" else []
            own = _lacking(spec, task, absent, mapping) if absent and not spec.skip_invalid else None
            shape, mapping = shapes.first_row(spec.preset, row, where, mapping, fields, not absent, own)
            checked = True
        try:
            if isinstance(row, DataError):
                raise row
            if shape is not None:
                row = shape.conform(row, where, "context" in fields)
            data, columns = _fields(row, where, task, mapping, shape)
            base = None
            if "id" not in data:
                base = _content_id(stem, spec.task, data)
                count = derived.get(base, 0) + 1
                data["id"] = base if count == 1 else f"{base}-{count}"
            try:
                record = model(**data)
            except ValidationError as exc:
                raise _translate(exc, where, fields, columns, shape) from None
            if record.id in seen:
                raise DataError(where, f"duplicate id {record.id!r}, first used at {seen[record.id]}", "id")
        except DataError as exc:
            if not spec.skip_invalid:
                raise
            skipped.append(Skipped(exc.where, exc.field, exc.reason))
            continue
        if base is not None:
            derived[base] = derived.get(base, 0) + 1
        seen[record.id] = where
        if getattr(record, "unanswerable", False) and spec.unanswerable == "exclude":
            excluded += 1
            continue
        records.append(record)  # type: ignore[arg-type]
    if rows == 0:
        raise DataError(source, "no rows found")
    if not records:
        if skipped:
            first = skipped[0]
            raise DataError(source, f"no valid records: all {len(skipped)} rows were invalid; "
                                    f"the first, at {first.where}: {first.reason}", first.field)
        raise DataError(source, f"no records left: all {excluded} questions are unanswerable (unanswerable: exclude)")
    records, notes = _select(records, spec, source)
    return LoadResult(records, skipped, excluded, source, spec.task, rows, notes)
