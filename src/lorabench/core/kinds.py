"""The task-kind registry: a kind's name -> the module that owns it.

The layers below the tasks (data, prompts, metrics) ask this registry at call time, never a task
module at import time: a task module imports them (records, metric functions, the synthetic
world), and `get_task` imports the module on first use. So this file imports no other part of
lorabench, and adding a kind is its module plus one line in `KINDS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Generic, TypeVar

# name -> module under lorabench.tasks. The order is the order of `--task` choices and of tables.
KINDS: dict[str, str] = {
    "extractive": "extractive",
    "open": "open_answers",
    "choice": "choice",
    "math": "math",
    "short": "short",
}

TaskKind = Enum("TaskKind", [(name, name) for name in KINDS], type=str, module=__name__)
TaskKind.__doc__ = "The task kinds lorabench knows: the keys of `KINDS`."


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Task:
    """Everything about one task kind that the rest of lorabench needs to know.

    Callables take plain records and strings, so each is testable without a model.
    """

    kind: Any  # a TaskKind member
    record_type: type  # the kind's record class (a pydantic model from lorabench.data.records or its module)
    field_aliases: Mapping[str, tuple[str, ...]]  # record field -> column names tried in order
    instruction: str  # the first line of every prompt, unless prompt.instruction replaces it
    cue: str  # what ends a plain (non-chat) prompt, e.g. "Answer:"
    stop_strings: tuple[str, ...]  # a generation is cut at the first of these
    max_new_tokens: int  # default generation budget, long enough for the kind's expected answer
    metrics: tuple[str, ...]  # metric names, in table order; the first is what validation reports
    primary_metric: str  # decides right/wrong per item (improved/regressed, error categories)
    score: Callable[[Any, Any], dict[str, float]]  # (ScoreInput, ScoreSettings) -> every metric in [0, 1]
    target: Callable[[Any], str]  # record -> the answer the model is trained to write
    synthesize: Callable[..., list]  # (rng, n, tag) -> records about the fictional world
    error_categories: tuple[str, ...]  # keys of items.CATEGORIES a wrong answer of this kind can get
    clean_answer: Callable[[str], str] = _same  # generation (cut at stops) -> the answer as scored
    prepare_fields: Callable[[dict[str, Any], str], dict[str, Any]] | None = None  # loader: raw fields -> record fields
    short_subset: bool = False  # golds vary in length, so "short answers" is a meaningful subset
    text_answers: bool = True  # wrong answers get the text categories (other question, verbose, partial)
    format_flag: str | None = None  # a 0/1 metric that marks an answer in the wrong format
    numeric_gold: bool = False  # a score file's gold may be a bare number
    unanswerable: bool = False  # a record may have no gold answer at all (SQuAD v2)
    passage_lengths: bool = False  # synthesize takes short_passages
    # Multiple choice trained to write the option's text (prompt.choice_answer: text): the instruction then.
    text_instruction: str | None = None


@cache
def get_task(kind: Any) -> Task:
    """The Task of a kind (a TaskKind or its name)."""
    member = TaskKind(kind)
    module = importlib.import_module(f"lorabench.tasks.{KINDS[member.value]}")
    task = module.TASK
    if task.kind is not member:
        raise RuntimeError(f"lorabench.tasks.{KINDS[member.value]} defines the task {task.kind!r}, not {member!r}")
    return task


T = TypeVar("T")


class ByKind(Mapping, Generic[T]):
    """A read-only mapping kind -> one attribute of its Task, looked up on use (so that modules
    below the tasks can keep a per-kind table without importing the task modules)."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __getitem__(self, kind: Any) -> T:
        try:
            member = TaskKind(kind)
        except ValueError:
            raise KeyError(kind) from None
        return getattr(get_task(member), self.attribute)

    def __iter__(self) -> Iterator[Any]:
        return iter(TaskKind)

    def __len__(self) -> int:
        return len(TaskKind)


class KindsWhere:
    """The kinds whose Task has a true `attribute`, as a container (`kind in ...`)."""

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __contains__(self, kind: object) -> bool:
        try:
            return bool(getattr(get_task(TaskKind(kind)), self.attribute))
        except ValueError:
            return False
