"""Where a data set comes from and how to read it: the `data:` section of a config.

A `DataSpec` is validated on construction, so mistakes in a config (two sources, a slice that
does not parse, a field mapping that names no record field) fail before any file is opened.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lorabench.data.records import TaskKind, record_type
from lorabench.core.kinds import ByKind, get_task

Format = Literal["auto", "jsonl", "json", "csv", "parquet", "squad", "qa_folder", "gsm8k", "hf"]
# How a row's columns become record fields; see lorabench.data.shapes.
Preset = Literal["auto", "none", "chat", "prompt_completion", "alpaca"]

# Formats of rows that any kind's records can come in; the others belong to one kind.
_ANY_KIND_FORMATS = ("auto", "jsonl", "json", "csv", "parquet", "hf")


def _format_kind(format: str) -> TaskKind | None:
    """The one kind a format holds (its module lists it in `formats`, e.g. 'squad'), or None.
    A mismatch is almost always a config typo."""
    return next((kind for kind in TaskKind if format in get_task(kind).formats), None)


# Column names that common data sets use for each record field, tried in order after the field's
# own name when `fields` does not map it (each kind's module declares its own). Public so docs and
# error messages can list them.
FIELD_ALIASES: ByKind[dict[str, tuple[str, ...]]] = ByKind("field_aliases")
ID_ALIASES = ("id", "_id", "qid", "question_id", "uid")
_BOUND = r"\s*(-?\d+%?)?\s*"
_SLICE_RE = re.compile(r"^\[?" + _BOUND + ":" + _BOUND + r"\]?$")


def parse_slice(text: str) -> tuple[str | None, str | None]:
    """Split a slice such as `[100:200]` or `[:10%]` into its two bounds (None when open).

    Raises ValueError with the accepted syntax when `text` is not a slice.
    """
    match = _SLICE_RE.match(text.strip())
    if not match:
        raise ValueError(
            f"slice {text!r} is not understood; use e.g. '[:1000]', '[100:200]' or '[:10%]'"
        )
    return match.group(1), match.group(2)


def _resolve_bound(bound: str | None, n: int, default: int) -> int:
    if bound is None:
        return default
    if bound.endswith("%"):
        # Percentages truncate toward zero, so '[:10%]' of 15 rows is 1 row and '[-10%:]' is the last 1.
        percent = int(bound[:-1])
        magnitude = abs(percent) * n // 100
        return -magnitude if percent < 0 else magnitude
    return int(bound)


def slice_range(text: str, n: int) -> range:
    """The row indices a slice selects out of `n` rows, with Python's clamping rules."""
    start, stop = parse_slice(text)
    return range(n)[slice(_resolve_bound(start, n, 0), _resolve_bound(stop, n, n))]


class DataSpec(BaseModel):
    """One data source, the task its rows become, and which of them to keep."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path | None = Field(
        default=None,
        description="A local file (.jsonl, .json, .csv, .parquet) or a folder of qa_*.json files.",
    )
    hf: str | None = Field(
        default=None,
        description="A Hugging Face dataset name (e.g. 'squad'), or a folder written by Dataset.save_to_disk.",
    )
    hf_config: str | None = Field(default=None, description="The Hugging Face config name, if the dataset has several.")
    split: str = Field(
        default="train",
        description="Hugging Face split, optionally with HF slicing such as 'train[:1000]'. Ignored for local files.",
    )
    format: Format = Field(
        default="auto",
        description="How to read the source; 'auto' guesses from the extension and the file's shape.",
    )
    task: TaskKind = Field(description="The record type every row becomes: extractive, open, choice or math.")
    preset: Preset = Field(
        default="auto",
        # Saved configs from before presets existed must still equal a new run's, so 'auto' is left out.
        exclude_if=lambda value: value == "auto",
        description=(
            "The rows' shape: 'chat' (OpenAI / HF `messages`), 'prompt_completion' (TRL, plain or conversational), "
            "'alpaca' (instruction / input / output), 'none' (the task's own fields only), or 'auto': the task's own "
            "fields when the first row has them, else the first shape it matches."
        ),
    )
    fields: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Record field -> source column, for columns whose names differ from the record's "
            "(e.g. {'question': 'query'}). For choice 'options', a comma-separated list of columns."
        ),
    )
    slice: str | None = Field(
        default=None,
        description="Rows to keep after loading, as a Python-style slice: '[:1000]', '[100:200]', '[:10%]'.",
    )
    sample: int | None = Field(
        default=None,
        ge=1,
        description="Keep a seeded random sample of this many records (after slicing), in source order.",
    )
    seed: int = Field(default=0, description="Seed for `sample`; the same seed always picks the same rows.")
    skip_invalid: bool = Field(
        default=False,
        description="Record invalid rows in the load result's `skipped` list instead of failing on the first.",
    )
    unanswerable: Literal["keep", "exclude"] = Field(
        default="keep",
        description="SQuAD v2 unanswerable questions: keep them, or exclude them (and count how many).",
    )
    question_field: Literal["question", "rephrased_question"] = Field(
        default="question",
        description="Which text of a qa_folder pair is the question: the original or the rephrased one.",
    )

    @field_validator("slice")
    @classmethod
    def _slice_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_slice(value)
        return value

    @field_validator("split")
    @classmethod
    def _split_nonempty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("split must be a non-empty split name such as 'train' or 'train[:1000]'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "DataSpec":
        if (self.path is None) == (self.hf is None):
            raise ValueError("give exactly one of 'path' (a local file or folder) or 'hf' (a Hugging Face dataset)")
        if self.hf_config is not None and self.hf is None:
            raise ValueError("'hf_config' only applies together with 'hf'")
        if self.hf is not None and self.format not in ("auto", "hf"):
            raise ValueError(f"format {self.format!r} reads local files; use 'path' instead of 'hf'")
        if self.path is not None and self.format == "hf":
            raise ValueError("format 'hf' needs 'hf' (a dataset name), not 'path'")
        if self.preset not in ("auto", "none") and self.format in ("squad", "qa_folder"):
            raise ValueError(f"preset {self.preset!r} reads rows of columns; format {self.format!r} has its own shape")
        required = None if self.format in _ANY_KIND_FORMATS else _format_kind(self.format)
        if required is not None and self.task != required:
            raise ValueError(f"format {self.format!r} holds {required.value} data, but task is {self.task.value!r}")
        self._check_fields()
        return self

    def _check_fields(self) -> None:
        known = list(record_type(self.task).model_fields)
        for name, column in self.fields.items():
            if name not in known:
                raise ValueError(
                    f"fields: {name!r} is not a field of {self.task.value} records (fields: {', '.join(known)})"
                )
            if not column.strip():
                raise ValueError(f"fields: the column for {name!r} is empty")

    @property
    def source_name(self) -> str:
        """How messages name this source: the path as given, or 'hf:<name>/<split>'."""
        return str(self.path) if self.path is not None else f"hf:{self.hf}/{self.split}"
