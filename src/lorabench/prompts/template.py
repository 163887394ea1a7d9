"""A record's text (`RecordText`: the kind's task text and target, or the templates over them),
and the prompt templates: Jinja2 text over a record's fields, rendered strictly.

`prompt.template` renders the task text a user would type (the user turn under a chat template,
the whole prompt without one) and `prompt.target_template` the answer a model is trained to write.
A template sees every field of the record by its name, every other column of the source row
(`{{ difficulty }}`, also as `extra.difficulty`), the option labels, and the task's instruction
line as `task_instruction`. `{{ options | lettered }}` writes options as "A. ..." lines and
`{{ options | lettered(": ") }}` as "A: ..." lines.

The gold answer (`answer`, `answers`, `response`, `final`, `unanswerable`) is for the target
template only: a prompt that shows it would leak what the model is asked. Undefined variables are
errors naming the template key, the variable and the record (Jinja's StrictUndefined), never empty
text; templates run sandboxed, since a config file can come from anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import UndefinedError

from lorabench.config.prompt import NO_ANSWER, PromptSettings
from lorabench.config.templates import compiled, lettered, syntax_problem  # noqa: F401
from lorabench.data.records import Record, option_labels
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task, get_task
from lorabench.prompts.answers import AnswerFrame

# Record fields holding the gold answer; a prompt template must not see them.
GOLD_FIELDS = frozenset({"answer", "answers", "response", "final", "unanswerable"})

_UNDEFINED_NAME = re.compile(r"^'(\w+)' is undefined$")
# Stands in for the answer when a target template is split into the text before and after it.
_ANSWER_MARK = "\x00answer\x00"


def _fields(record: Record) -> dict[str, Any]:
    return {name: getattr(record, name) for name in type(record).model_fields if name != "extra"}


def _columns(record: Record) -> dict[str, Any]:
    extra = dict(record.extra or {})
    return {**extra, "extra": extra}


def _labels(record: Record) -> dict[str, Any]:
    options = getattr(record, "options", None)
    return {"labels": option_labels(len(options))} if isinstance(options, list) else {}


def prompt_variables(record: Record, task_instruction: str, context: str | None) -> dict[str, Any]:
    """What `prompt.template` sees: the record's fields but the gold ones, its other columns, the
    option labels and the task's instruction; `context` is the (maybe shortened) context."""
    fields = {k: v for k, v in _fields(record).items() if k not in GOLD_FIELDS}
    if "context" in fields and context is not None:
        fields["context"] = context
    return {**_columns(record), **fields, **_labels(record), "task_instruction": task_instruction}


def target_variables(record: Record, answer: str, task: Task) -> dict[str, Any]:
    """What `prompt.target_template` sees: every field, with `answer` the task's own target (the first
    gold span, the option label, the worked solution, the response); `task` is the record's Task."""
    own = task.template_variables(record)  # e.g. multiple choice's answer_text
    return {**_columns(record), **_fields(record), **_labels(record), "answer": answer, **own}


def render(text: str, key: str, variables: dict[str, Any], record_id: str) -> str:
    """`text` rendered with `variables`; any failure is a LorabenchError naming `key` and the record."""
    try:
        return compiled(text).render(variables)
    except UndefinedError as error:
        name = _UNDEFINED_NAME.match(str(error))
        if name is None:
            raise LorabenchError(f"{key}: record {record_id}: {error}") from None
        hint = _undefined_hint(name.group(1), key, variables)
        raise LorabenchError(f"{key}: record {record_id}: undefined variable '{name.group(1)}'; {hint}") from None
    except Exception as error:  # a template is the user's code: whatever it raises is their mistake
        raise LorabenchError(f"{key}: record {record_id}: {type(error).__name__}: {error}") from None


def _undefined_hint(name: str, key: str, variables: dict[str, Any]) -> str:
    if name in GOLD_FIELDS and key == "prompt.template":
        return "the gold answer is only available to prompt.target_template"
    known = ", ".join(sorted(k for k in variables if k != "extra"))
    return f"this record has: {known}"


def answer_frame(text: str, key: str, record: Record, task: Task) -> AnswerFrame:
    """Split the rendered target template at the answer; no frame when it does not write `answer`."""
    marked = render(text, key, target_variables(record, _ANSWER_MARK, task), record.id)
    if marked.count(_ANSWER_MARK) != 1:
        return AnswerFrame()
    lead, tail = marked.split(_ANSWER_MARK)
    return AnswerFrame(lead.strip(), tail.strip())


@dataclass(frozen=True)
class RecordText:
    """One record's text under one set of prompt settings, its kind looked up once: the instruction,
    the user message (the kind's task text, or prompt.template), the target (the kind's, or
    prompt.target_template) and the text that template writes around the answer."""

    record: Record
    settings: PromptSettings
    task: Task
    instruction: str

    @classmethod
    def of(cls, record: Record, settings: PromptSettings) -> RecordText:
        return cls.by(get_task(record.task), record, settings)

    @classmethod
    def by(cls, task: Task, record: Record, settings: PromptSettings) -> RecordText:
        """`of` by the record's Task, for a caller that has it already."""
        instruction = settings.instruction or task.instruction_for(settings.choice_answer)
        if settings.unanswerable_hint and task.unanswerable:
            instruction += f' If the context does not contain the answer, reply "{NO_ANSWER}".'
        return cls(record, settings, task, instruction)

    def message(self, context: str | None = None) -> str:
        """The task text a user would type, with `context` (a shortened one) in place of the record's."""
        record, template = self.record, self.settings.template
        if template is not None:
            return render(template, "prompt.template", prompt_variables(record, self.instruction, context), record.id)
        return self.task.task_text(record, self.instruction, record.context_text if context is None else context)

    def target(self) -> str:
        """The answer the model is trained to write, through prompt.target_template when there is one."""
        record, template = self.record, self.settings.target_template
        target = self.task.target_for(record, self.settings.choice_answer)
        if template is None:
            return target
        key = "prompt.target_template"
        text = render(template, key, target_variables(record, target, self.task), record.id)
        if not text.strip():
            raise LorabenchError(f"{key}: record {record.id}: renders to empty text, leaving nothing to learn")
        return text

    def frame(self) -> AnswerFrame:
        """The target template's text around the answer (none without a target template)."""
        template = self.settings.target_template
        if template is None:
            return AnswerFrame()
        return answer_frame(template, "prompt.target_template", self.record, self.task)


def check_templates(records: Sequence[Record], settings: PromptSettings, task: Task) -> None:
    """Render every record's task text and target once, so that a template mistake (a column some
    row lacks) stops a run before it writes anything; `task` is the records' Task. Nothing to do
    without templates."""
    if not settings.uses_templates:
        return
    for record in records:
        text = RecordText.by(task, record, settings)
        text.message()
        text.target()
        text.frame()
