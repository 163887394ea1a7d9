"""The `batch` strategy: a context once with all its questions, numbered; one numbered line per answer.

The parser maps lines to questions by their number only. A question whose number is missing, given
twice with different answers, or given with nothing after it has no answer (a parse failure,
scored as wrong). Lines that answer no question (unnumbered, numbered outside 1..n, identical
repeats) are counted as extra lines and otherwise ignored: they are never assigned to a question by
their position, which would silently shift every later answer onto the wrong question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lorabench.data.records import Record
from lorabench.config.prompt import NO_ANSWER, PromptSettings
from lorabench.core.kinds import get_task
from lorabench.prompts.build import Prompt, PromptBuilder

# The extractive stop string "\n" would end the answer after its first line. A plain-prompt model
# that runs on writes a new item instead, and that is where the answers end.
BATCH_STOP_STRINGS = ("\nContext:", "\nQuestions:", "\nQuestion:")

BATCH_CUE = "Answers:"
_INSTRUCTION = "Answer each question with a short span copied from the context."
_FORMAT = 'Write one line per question, in the form "<number>. <answer>".'

# "1. x", "1) x", "1: x", "1 - x", "Answer 1: x", with an optional list bullet or markdown bold.
# The separator must be followed by a space or the end, so "3.14 m" or "1:30 pm" is not a number label.
_NUMBERED = re.compile(
    r"""^(?:[-*\u2022]\s+)?
        (?:\*\*)?
        (?:answer\s*)?
        \#?(\d{1,3})
        (?:\*\*)?
        (?:[.):](?=\s|$|\*)|\s+-(?=\s|$))
        (?:\*\*)?
        \s*(.*)$""",
    re.IGNORECASE | re.VERBOSE,
)


def batch_message(records: Sequence[Record], settings: PromptSettings) -> tuple[str, str]:
    """The user message's text before and after the context: the instruction, then the numbered
    questions. Neither depends on the context, so they are written once however often fitting
    shortens the context between them."""
    instruction = f"{settings.instruction or _INSTRUCTION} {_FORMAT}"
    if settings.unanswerable_hint:
        instruction += f' If the context does not contain the answer to a question, write "{NO_ANSWER}" as its answer.'
    # A question is one numbered line, so line breaks inside it would read as extra items.
    questions = "\n".join(f"{number}. {' '.join(r.question.split())}" for number, r in enumerate(records, start=1))
    return f"{instruction}\n\nContext: ", f"\n\nQuestions:\n{questions}"


def batch_target(records: Sequence[Record]) -> str:
    """The numbered gold answers a model is trained to write (the first gold answer of each)."""
    return "\n".join(f"{number}. {get_task(r.task).target(r)}" for number, r in enumerate(records, start=1))


def build_batch_prompt(records: Sequence[Record], builder: PromptBuilder) -> Prompt:
    """One prompt for a context's questions, rendered by the stage's `builder`; a long context is
    shortened, never a question.

    `max_prompt_tokens` bounds this whole prompt; the answers get their own budget at generation.
    """
    first = records[0]
    before, after = batch_message(records, builder.settings)
    target = batch_target(records)
    fitted = builder.fit(
        first.context, lambda context: before + context + after, lambda message: builder.user_turn(message, BATCH_CUE),
        f"context of record {first.id}",
    )
    return Prompt(first.id, fitted.text, target, builder.chat, fitted.n_tokens, fitted.shortened)


def cut_batch_output(generated: str) -> str:
    """The generation up to the first batch stop string: what the parser reads."""
    for stop in BATCH_STOP_STRINGS:
        index = generated.find(stop)
        if index != -1:
            generated = generated[:index]
    return generated


@dataclass(frozen=True)
class NumberedAnswers:
    """A batch output mapped onto questions 1..n (index i is question i + 1)."""

    answers: tuple[str | None, ...]  # as written, 'unanswerable' included; None: no usable answer
    errors: tuple[str | None, ...]  # why a question has no usable answer: "missing", "duplicate" or "empty"
    complete: tuple[bool, ...]  # the answer's line was ended by a newline, so it cannot have been cut
    extra_lines: int  # non-blank lines that answer no question

    @property
    def failures(self) -> int:
        return sum(error is not None for error in self.errors)


def parse_numbered_answers(text: str, n: int) -> NumberedAnswers:
    """Map numbered lines onto `n` questions by number (see the module docstring for the rules)."""
    found: dict[int, list[tuple[str, bool]]] = {}
    extra = 0
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _NUMBERED.match(line.strip())
        if match is None or not 1 <= int(match[1]) <= n:
            extra += 1
            continue
        found.setdefault(int(match[1]), []).append((match[2].strip(), index < len(lines) - 1))

    answers: list[str | None] = []
    errors: list[str | None] = []
    complete: list[bool] = []
    for number in range(1, n + 1):
        entries = found.get(number, [])
        extra += max(0, len(entries) - 1)
        texts = {answer for answer, _ in entries}
        error = "missing" if not entries else "duplicate" if len(texts) > 1 else "empty" if not entries[0][0] else None
        answers.append(None if error else entries[0][0])
        errors.append(error)
        complete.append(bool(entries) and entries[-1][1])
    return NumberedAnswers(tuple(answers), tuple(errors), tuple(complete), extra)
