"""Closed-book short answers (TriviaQA / NQ-open style): a question, no context, one or more
acceptable answers (aliases). Every metric takes the best match over the aliases.

This module is the whole kind: record, field aliases, prompt pieces, metrics, error categories and
synthetic data. Its entry point (pyproject.toml, group `lorabench.tasks`) is all it needs outside itself.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pydantic import field_validator

from lorabench.data import synth
from lorabench.data.loaders import answer_list
from lorabench.data.records import BaseRecord
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.metrics.squad import exact_match, f1_score
from lorabench.metrics.text import lenient_match
from lorabench.core.kinds import Task, TaskKind


class ShortRecord(BaseRecord):
    """A question answered from memory, with every acceptable answer ("1842", "the year 1842")."""

    task: ClassVar[Any] = TaskKind("short")
    question: str
    answers: list[str]

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("question must be a non-empty string")
        return value

    @field_validator("answers")
    @classmethod
    def _answers(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("answers: at least one answer is required")
        if any(not isinstance(a, str) or not a.strip() for a in value):
            raise ValueError("answers: every answer must be a non-empty string")
        return value

    @property
    def question_text(self) -> str:
        return self.question

    @property
    def golds(self) -> list[str]:
        return list(self.answers)


def _aliases(key: str, answer: str) -> list[str]:
    """The answer, and the other ways a person would give it."""
    aliases = [answer]
    if key in ("P", "Q", "Z"):
        aliases.append(answer.split()[-1])  # a person by their surname
    if key in ("O", "O2"):
        aliases.append(f"the {answer}")
    if key in ("Y1", "Y2"):
        aliases.append(f"in {answer}")
    return aliases


class ShortTask(Task):
    record_type = ShortRecord
    field_aliases = {
        "question": ("question", "query", "prompt"),
        "answers": ("answers", "answer", "aliases", "correct_answer", "target"),
    }
    instruction = "Answer the question with a short answer: a name, a number or a few words."
    max_new_tokens = 32
    metrics = ("exact_match", "f1", "lenient_match")
    primary_metric = "exact_match"
    error_categories = ("empty", "cut", "verbose", "partial", "wrong")

    def prepare_fields(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        if "answers" in data:
            data["answers"] = answer_list(data["answers"])
        return data

    def target(self, record: ShortRecord) -> str:
        return record.answers[0]

    def score(self, item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
        """SQuAD exact match and F1 and lenient match, each the best over the aliases."""
        pred, golds = item.prediction, item.golds
        return {"exact_match": exact_match(pred, golds), "f1": f1_score(pred, golds), "lenient_match": lenient_match(pred, golds)}

    def synthesize(self, rng: random.Random, n: int, tag: str) -> list[ShortRecord]:
        """Questions about the fictional world, each stating the fact it asks about. A fictional world
        has no facts to remember, so the question carries its clue the way a trivia question does;
        what a fine-tune learns here is the short-answer format, which is what closed-book SFT data
        teaches a base model first."""
        records = []
        for i in range(n):
            passage = synth.passage(rng, (1, 2), words=(10, 60))
            key, question = rng.choice(passage.facts)
            records.append(ShortRecord(
                id=f"synth-{tag}-short-{i:05d}", question=f"{passage.text} {question}",
                answers=_aliases(key, passage.cast[key]),
            ))
        return records
