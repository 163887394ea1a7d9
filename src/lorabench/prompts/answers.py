"""From a generation to the answer that is scored: cut at the task's stop strings, the target
template's text around the answer taken off, the kind's own clean-up last.

Prompt building (build.py) decides what a model is shown; this module reads what it wrote back.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorabench.config.prompt import NO_ANSWER
from lorabench.core.kinds import ByKind, get_task
from lorabench.data.records import TaskKind

# Per kind (each kind's module declares them): where a plain-prompt model starts a new item
# instead of stopping.
STOP_STRINGS: ByKind[tuple[str, ...]] = ByKind("stop_strings")


@dataclass(frozen=True)
class AnswerFrame:
    """The fixed text a target template writes around the answer ("Answer: {{answer}}." gives
    "Answer:" and "."), taken off a generation before it is scored."""

    lead: str = ""
    tail: str = ""

    def strip(self, text: str) -> str:
        if self.lead and text.startswith(self.lead):
            text = text[len(self.lead) :].lstrip()
        if self.tail and text.endswith(self.tail):
            text = text[: -len(self.tail)].rstrip()
        return text


def no_answer_to_empty(text: str) -> str:
    """An extractive answer as scored: the model saying 'unanswerable' is the empty answer."""
    return "" if text.lower().rstrip(".") == NO_ANSWER else text


def cut_at_stops(task: TaskKind, generated: str) -> str:
    """What the model said: the generation cut at the task's stop strings, trimmed."""
    # Leading whitespace is not an answer; an extractive answer that opens with a newline is still one line.
    text = generated.lstrip()
    for stop in STOP_STRINGS[TaskKind(task)]:
        index = text.find(stop)
        if index != -1:
            text = text[:index]
    return text.strip()


def answer_from_generation(task: TaskKind, generated: str, frame: AnswerFrame = AnswerFrame()) -> str:
    """The answer a generation gives: cut at the task's stop strings, trimmed, the target template's
    text around the answer taken off; 'unanswerable' -> ''."""
    said = frame.strip(cut_at_stops(task, generated))
    return get_task(task).clean_answer(said)
