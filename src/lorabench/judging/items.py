"""What is judged: items with a question, a gold answer and one answer per side (base, tuned, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lorabench.data.records import Record
from lorabench.prompts.build import user_message


@dataclass(frozen=True)
class JudgeItem:
    id: str
    question: str  # what the model was asked (instruction and context), as a person would read it
    gold: str
    answers: Mapping[str, str]  # side ("base", "tuned", or one model's name) -> the answer as scored
    exact_match: Mapping[str, float] = field(default_factory=dict)  # side -> EM of that answer, when known


def question_of(record: Record, prompt_settings: Any) -> str:
    """What the model was asked, as a person reads it: the task text of its prompt (instruction,
    context, question) under the run's prompt settings, without chat markup or few-shot examples."""
    return user_message(record, prompt_settings)


def gold_text(golds: Sequence[str]) -> str:
    """One gold answer for the rubric: several acceptable ones are listed, separated by ' | '."""
    kept = [g.strip() for g in golds if str(g).strip()]
    return " | ".join(kept)

