"""What is judged: items with a question, a gold answer and one answer per side (base, tuned, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lorabench.core.errors import LorabenchError
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


def check_items(items: Sequence[JudgeItem], sides: Sequence[str]) -> None:
    """Refuse what cannot be judged: no items, duplicate ids, an item without every side's answer."""
    if not items:
        raise LorabenchError("nothing to judge: no items")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise LorabenchError(f"item {item.id} appears twice; judged items need distinct ids")
        seen.add(item.id)
        missing = [side for side in sides if side not in item.answers]
        if missing:
            raise LorabenchError(f"item {item.id} has no answer of {', '.join(missing)}")
        if not item.gold:
            raise LorabenchError(f"item {item.id} has no gold answer; the judge grades against the gold")
