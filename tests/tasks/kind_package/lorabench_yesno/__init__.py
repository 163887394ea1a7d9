"""Yes/no questions: a context, a question, the answer "yes" or "no"."""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pydantic import field_validator

from lorabench.core.kinds import Task, TaskKind
from lorabench.data.records import BaseRecord


class YesNoRecord(BaseRecord):
    task: ClassVar[Any] = TaskKind("yesno")
    question: str
    answer: str
    context: str = ""

    @field_validator("answer", mode="before")
    @classmethod
    def _yes_or_no(cls, value: Any) -> str:
        answer = str(value).strip().lower()
        if answer not in ("yes", "no"):
            raise ValueError(f"answer must be yes or no, got {value!r}")
        return answer

    @property
    def question_text(self) -> str:
        return self.question

    @property
    def context_text(self) -> str:
        return self.context

    @property
    def golds(self) -> list[str]:
        return [self.answer]


class YesNoTask(Task):
    record_type = YesNoRecord
    field_aliases = {"question": ("question",), "answer": ("answer", "label"), "context": ("context", "passage")}
    instruction = "Answer yes or no."
    max_new_tokens = 3
    metrics = ("accuracy", "no_answer")
    primary_metric = "accuracy"
    error_categories = ("empty", "cut", "format", "wrong")
    text_answers = False
    format_flag = "no_answer"

    def target(self, record: YesNoRecord) -> str:
        return record.answer

    def score(self, item: Any, settings: Any) -> dict[str, float]:
        said = item.prediction.strip().lower().rstrip(".")
        return {"accuracy": float(said == item.golds[0].lower()), "no_answer": float(said not in ("yes", "no"))}

    def synthesize(self, rng: random.Random, n: int, tag: str) -> list[YesNoRecord]:
        records = []
        for i in range(n):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            records.append(YesNoRecord(
                id=f"synth-{tag}-yn-{i:05d}", question=f"Is {a} greater than {b}?", answer="yes" if a > b else "no",
            ))
        return records
