"""Task kinds: the interface a kind implements (`Task`), and the registry that finds them.

A kind is one class, a `Task` subclass, registered as an entry point of the group
`lorabench.tasks` (name = the kind's name, value = "module:Class"): lorabench's own kinds in its
pyproject.toml, a user's kind in their own package's. Names are read from the installed packages'
metadata when this module is imported; a kind's module is imported the first time it is used, so
the layers below the tasks (data, prompts, metrics) ask this registry at call time and never import
a task module. Nothing outside the kinds' own modules names a kind: generic code asks the Task.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from enum import Enum
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

GROUP = "lorabench.tasks"

# How the engine gets a kind's answer: generated text, the log-probability of each option's text,
# or the next-token probability of each option's label.
ScoringStrategy = Literal["generate", "logprob", "letter"]


class Record(Protocol):
    """What a Task's hooks read of a record (lorabench.data.records.BaseRecord, which sits above
    this module, is one): the kind's own record class adds its fields."""

    id: str

    @property
    def question_text(self) -> str: ...

    @property
    def context_text(self) -> str: ...

    @property
    def golds(self) -> list[str]: ...

    def model_dump(self, *, exclude_none: bool = ...) -> dict[str, Any]: ...


def _kind_entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        found.setdefault(point.name, point)  # the same package installed twice (editable + site) counts once
    return found


# name -> entry point, for every installed kind. The order is the order of `--task` choices and of tables.
KINDS: dict[str, EntryPoint] = _kind_entry_points()

TaskKind = Enum("TaskKind", [(name, name) for name in KINDS], type=str, module=__name__)
TaskKind.__doc__ = "The installed task kinds: the names of the `lorabench.tasks` entry points."


class Task(ABC):
    """Everything about one task kind that the rest of lorabench needs to know.

    A subclass sets the class attributes and implements `score`, `target` and `synthesize`; every
    other hook has the plain-text default that most kinds want. Hooks take records and strings, so
    each is testable without a model.
    """

    kind: Any  # this kind's TaskKind member (set by the registry from the entry point's name)
    record_type: ClassVar[type]  # the kind's record class (a lorabench.data.records.BaseRecord)
    field_aliases: ClassVar[Mapping[str, tuple[str, ...]]]  # record field -> column names tried in order
    instruction: ClassVar[str]  # the first line of every prompt, unless prompt.instruction replaces it
    cue: ClassVar[str] = "Answer:"  # what ends a plain (non-chat) prompt
    stop_strings: ClassVar[tuple[str, ...]] = ("\n",)  # a generation is cut at the first of these
    max_new_tokens: ClassVar[int]  # default generation budget, long enough for the kind's expected answer
    metrics: ClassVar[tuple[str, ...]]  # metric names, in table order; the first is what validation reports
    primary_metric: ClassVar[str]  # decides right/wrong per item (improved/regressed, error categories)
    error_categories: ClassVar[tuple[str, ...]]  # keys of items.CATEGORIES a wrong answer of this kind can get
    short_subset: ClassVar[bool] = False  # golds vary in length, so "short answers" is a meaningful subset
    text_answers: ClassVar[bool] = True  # wrong answers get the text categories (other question, verbose, partial)
    format_flag: ClassVar[str | None] = None  # a 0/1 metric that marks an answer in the wrong format
    numeric_gold: ClassVar[bool] = False  # a score file's gold may be a bare number
    unanswerable: ClassVar[bool] = False  # a record may have no gold answer at all (SQuAD v2)
    passage_lengths: ClassVar[bool] = False  # synthesize takes short_passages
    # Several questions share one context, so prompt.strategy 'batch' and 'sequential' apply.
    shared_contexts: ClassVar[bool] = False
    # Data formats (a DataSpec's `format`) that hold this kind only, e.g. 'squad'.
    formats: ClassVar[tuple[str, ...]] = ()
    # Trained to write the option's text (prompt.choice_answer: text): the instruction then.
    text_instruction: ClassVar[str | None] = None
    # Free-text answers a judge model grades (lorabench.judging): metrics.primary may be judge_correct.
    judged: ClassVar[bool] = False

    # --- records -------------------------------------------------------------------------------
    def prepare_fields(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        """The loader's raw fields (after column mapping) -> the record's fields; `where` names the row."""
        return data

    def options(self, record: Record) -> list[str] | None:
        """The answer options of a record, when the kind has them (the report shows them per item)."""
        return None

    # --- prompts -------------------------------------------------------------------------------
    def instruction_for(self, choice_answer: str) -> str:
        """The default first line of a prompt, given what the model is trained to write."""
        return self.instruction

    def task_text(self, record: Record, instruction: str, context: str) -> str:
        """The task text a user would type: the instruction, the context (when there is one), the question."""
        parts = [instruction]
        if context.strip():
            parts.append(f"Context: {context}")
        parts.append(f"Question: {record.question_text}")
        return "\n\n".join(parts)

    @abstractmethod
    def target(self, record: Record) -> str:
        """The answer the model is trained to write."""

    def target_for(self, record: Record, choice_answer: str) -> str:
        """The target, given what prompt.choice_answer asks the model to write."""
        return self.target(record)

    def template_variables(self, record: Record) -> dict[str, Any]:
        """What prompt.target_template sees besides the record's fields and `answer`."""
        return {}

    # --- the engine ----------------------------------------------------------------------------
    def scoring_strategy(self, choice_mode: str) -> ScoringStrategy:
        """How the engine scores this kind under decoding.choice_mode."""
        return "generate"

    def follow_scoring(self, choice_answer: str, choice_mode: str) -> str:
        """prompt.choice_answer as training must write it for `choice_mode` to score what it learned."""
        return choice_answer

    def scoring_conflict(self, settings: Any, choice_mode: str) -> str | None:
        """Why prompts under these settings (a PromptSettings) cannot be scored under `choice_mode`, or None."""
        return None

    def answer_conflict(self, settings: Any, choice_mode: str) -> str | None:
        """Why a prompt.choice_answer written into a config disagrees with `choice_mode`, or None."""
        return None

    def shown_decoding(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The decoding settings that took part in this kind's evaluation, for the report."""
        return {k: v for k, v in settings.items() if k not in ("choice_mode", "choice_normalization")}

    # --- answers and scores ----------------------------------------------------------------------
    def clean_answer(self, text: str) -> str:
        """A generation (cut at the stop strings) -> the answer as scored."""
        return text

    @abstractmethod
    def score(self, item: Any, settings: Any) -> dict[str, float]:
        """Every metric of `metrics`, each in [0, 1], for a lorabench.metrics.scoring.ScoreInput
        under its ScoreSettings (both defined above this module)."""

    @abstractmethod
    def synthesize(self, rng: random.Random, n: int, tag: str) -> Sequence[Record]:
        """`n` records about the fictional world (lorabench.data.synth), ids tagged with `tag`."""

    def row(self, record: Record) -> dict[str, Any]:
        """The canonical JSON form of a record (what the loaders read back as is)."""
        return record.model_dump(exclude_none=True)

    def __repr__(self) -> str:
        return f"<task {self.kind.value}: {type(self).__module__}.{type(self).__qualname__}>"


@cache
def get_task(kind: Any) -> Task:
    """The Task of a kind (a TaskKind or its name), its module imported on first use."""
    member = TaskKind(kind)
    point = KINDS[member.value]
    loaded = point.load()
    task = loaded() if isinstance(loaded, type) else loaded
    if not isinstance(task, Task):
        raise TypeError(f"entry point {GROUP}:{point.name} = {point.value} is not a lorabench Task")
    task.kind = member
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

