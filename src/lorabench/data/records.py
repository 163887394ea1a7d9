"""What every kind's record is (`BaseRecord`), and how records are saved. Each kind's module
(lorabench.tasks) defines its own record class; loaders build them, prompts, metrics and splits
read them through `BaseRecord`'s properties and the kind's Task.

Records are validated on construction, so a record that exists is usable: required text is
non-empty, a choice answer names one of its options, a math answer has a final number.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lorabench.core.kinds import ByKind, Task, TaskKind, get_task


def require_text(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


Role = Literal["system", "user", "assistant"]
ROLES: tuple[str, ...] = ("system", "user", "assistant")


class Turn(BaseModel):
    """One earlier message of a conversation, in the OpenAI / Hugging Face chat format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    content: str


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    task: ClassVar[TaskKind]

    id: str
    # A chat record's turns before its question (a system message included), rendered before it.
    # None rather than empty, so records without a conversation dump, hash and save as before.
    history: tuple[Turn, ...] | None = None
    # The source row's other columns, for prompt templates ({{ difficulty }}). Left out of dumps, so
    # ids, item fingerprints and prompts of records are the same with or without them.
    extra: dict[str, Any] | None = Field(None, exclude=True)

    @field_validator("history")
    @classmethod
    def _no_empty_history(cls, value: tuple[Turn, ...] | None) -> tuple[Turn, ...] | None:
        return value or None

    @field_validator("id", mode="before")
    @classmethod
    def _id_to_str(cls, value: Any) -> str:
        # Ids are often integers in CSV/Parquet; keep them as text so they compare across formats.
        if isinstance(value, (int,)) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("id")
    @classmethod
    def _id_nonempty(cls, value: str) -> str:
        return require_text(value, "id")

    @property
    def group_id(self) -> str:
        """Items sharing a group must land in the same split (see data.splits)."""
        return "id:" + self.id

    @property
    def question_text(self) -> str:
        """The text a leakage check compares as 'the question'."""
        raise NotImplementedError

    @property
    def context_text(self) -> str:
        return ""

    @property
    def conversation_text(self) -> str:
        """The earlier user and assistant turns, then the question: what a leakage check compares.
        System messages are left out: like the task's instruction line, they are the same for many rows."""
        earlier = [turn.content for turn in self.history or () if turn.role != "system"]
        return "\n".join([*earlier, self.question_text])


def context_group(context: str) -> str:
    return "ctx:" + hashlib.sha1(" ".join(context.split()).encode("utf-8")).hexdigest()[:16]


def option_labels(n: int) -> list[str]:
    if n > len(string.ascii_uppercase):
        raise ValueError(f"options: at most {len(string.ascii_uppercase)} options are supported, got {n}")
    return list(string.ascii_uppercase[:n])


# Any kind's record. The base class, since each kind's module may define its own record type.
Record = _Record
BaseRecord = _Record

# Each kind's record class, as its task module declares it.
RECORD_TYPES: ByKind[type[_Record]] = ByKind("record_type")


def record_type(task: TaskKind | str) -> type[_Record]:
    return get_task(task).record_type


def record_to_row(record: _Record, extra: bool = False) -> dict[str, Any]:
    """The canonical JSON form of a record: its own field names, which the loaders read back as is.

    `extra` adds the source's other columns under "extra" (when it has any), as saved splits keep them.
    """
    return task_row(get_task(record.task), record, extra)


def task_row(task: Task, record: _Record, extra: bool = False) -> dict[str, Any]:
    """`record_to_row` by the record's Task, for a caller that has it already."""
    row = task.row(record)
    if extra and record.extra:
        row["extra"] = dict(record.extra)
    return row


def records_digest(task: Task, records: Sequence[_Record], extra: bool = False) -> str:
    """A fingerprint of the exact items evaluated (records of `task`), so a resumed or compared run
    uses the same ones. `extra` counts the source's other columns too (which prompt templates read)."""
    digest = hashlib.sha256()
    for record in records:
        row = task_row(task, record, extra)
        digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    return digest.hexdigest()


@dataclass(frozen=True)
class SplitDigests:
    """The fingerprints (records_digest) of a run's splits, made once when the data is split for
    every stage that names its items: training's fingerprint, each evaluation's config.yaml and
    summary.json. Prompt templates read the source's other columns, so under them the items as
    prompted are fingerprinted with those columns too."""

    train: str
    validation: str
    test: str
    prompted_test: str  # the test items as the evaluations prompt them (`test` without templates)
    prompted_training: str | None  # train then validation with their other columns; None without templates


def split_digests(
    task: Task, train: Sequence[_Record], validation: Sequence[_Record], test: Sequence[_Record], templates: bool
) -> SplitDigests:
    """The fingerprints of a run's splits, records of `task`; `templates`: the prompt has templates."""
    test_digest = records_digest(task, test)
    return SplitDigests(
        records_digest(task, train), records_digest(task, validation), test_digest,
        records_digest(task, test, extra=True) if templates else test_digest,
        records_digest(task, [*train, *validation], extra=True) if templates else None,
    )


def save_records(records: Sequence[_Record], path: str | Path) -> Path:
    """Write records as JSON Lines in canonical form (UTF-8, one object per line), each by its kind's
    Task. Written to a temporary name and renamed, so an interrupted write never leaves half a file."""
    return _write_rows((record_to_row(record, extra=True) for record in records), path)


def save_task_records(task: Task, records: Sequence[_Record], path: str | Path) -> Path:
    """`save_records` for records of `task`, by a caller that has it already (a run saving its splits)."""
    return _write_rows((task_row(task, record, extra=True) for record in records), path)


def _write_rows(rows: Iterable[dict[str, Any]], path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
