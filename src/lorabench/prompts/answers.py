"""From a generation to the answer that is scored: cut at the task's stop strings, the target
template's text around the answer taken off, the kind's own clean-up last.

Prompt building (build.py) decides what a model is shown; this module reads what it wrote back.
"""

from __future__ import annotations

from dataclasses import dataclass

from lorabench.config.prompt import NO_ANSWER
from lorabench.core.kinds import ByKind, Task

# Per kind (each kind's module declares them, as its Task's stop_strings): where a plain-prompt
# model starts a new item instead of stopping.
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


def cut_at_stops(task: Task, generated: str) -> str:
    """What the model said: the generation cut at the stop strings of `task` (the records' kind), trimmed."""
    # Leading whitespace is not an answer; an extractive answer that opens with a newline is still one line.
    text = generated.lstrip()
    for stop in task.stop_strings:
        index = text.find(stop)
        if index != -1:
            text = text[:index]
    return text.strip()


def answer_from_generation(task: Task, generated: str, frame: AnswerFrame = AnswerFrame()) -> str:
    """The answer a generation gives: cut at the stop strings of `task` (the records' kind), trimmed,
    the target template's text around the answer taken off, then the kind's own clean-up
    ('unanswerable' -> '')."""
    said = frame.strip(cut_at_stops(task, generated))
    return task.clean_answer(said)
