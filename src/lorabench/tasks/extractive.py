"""Extractive QA (SQuAD style): a context, a question, answer spans copied from the context.
Unanswerable questions (SQuAD v2) have no answers; the model says "unanswerable"."""

import random
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from lorabench.data import synth
from lorabench.data.loaders import prepare_extractive_fields
from lorabench.data.records import BaseRecord, context_group, require_text
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, text_scores
from lorabench.metrics.squad import exact_match, f1_score
from lorabench.config.prompt import NO_ANSWER
from lorabench.prompts.answers import no_answer_to_empty
from lorabench.core.kinds import Task, TaskKind



class ExtractiveRecord(BaseRecord):
    """SQuAD-style: answer spans from a context. An empty `answers` list means unanswerable (SQuAD v2)."""

    task: ClassVar[TaskKind] = TaskKind("extractive")
    context: str
    question: str
    answers: list[str]
    title: str | None = None
    unanswerable: bool = False

    @field_validator("context", "question")
    @classmethod
    def _text(cls, value: str, info: Any) -> str:
        return require_text(value, info.field_name)

    @model_validator(mode="after")
    def _answers_present(self) -> "ExtractiveRecord":
        if any(not isinstance(a, str) or not a.strip() for a in self.answers):
            raise ValueError("answers: every answer must be a non-empty string")
        if self.unanswerable and self.answers:
            raise ValueError("answers: an unanswerable question must have no answers")
        if not self.unanswerable and not self.answers:
            raise ValueError("answers: at least one answer is required")
        return self

    @property
    def group_id(self) -> str:
        return context_group(self.context)

    @property
    def question_text(self) -> str:
        return self.question

    @property
    def context_text(self) -> str:
        return self.context

    @property
    def golds(self) -> list[str]:
        return list(self.answers)


class ExtractiveTask(Task):
    record_type = ExtractiveRecord
    field_aliases = {
        "context": ("context", "passage", "paragraph"),
        "question": ("question", "query"),
        "answers": ("answers", "answer", "answer_text"),
        "title": ("title",),
        "unanswerable": ("unanswerable", "is_impossible"),
    }
    instruction = "Answer the question with a short span copied from the context."
    max_new_tokens = 32
    metrics = ("exact_match", "f1", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc")
    primary_metric = "exact_match"
    error_categories = ("answered_unanswerable", "empty", "cut", "other_question", "verbose", "partial", "wrong")
    short_subset = True
    unanswerable = True
    passage_lengths = True
    shared_contexts = True
    formats = ("squad",)

    def prepare_fields(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        return prepare_extractive_fields(data, where)

    def target(self, record: ExtractiveRecord) -> str:
        return record.answers[0] if record.answers else NO_ANSWER

    def clean_answer(self, text: str) -> str:
        return no_answer_to_empty(text)

    def score(self, item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
        """Official SQuAD EM and F1 on the raw text, the looser text metrics on the normalized text."""
        # The official metrics get the raw text: they normalize it themselves, as the SQuAD script does.
        pred, golds = item.prediction, item.golds
        return {"exact_match": exact_match(pred, golds), "f1": f1_score(pred, golds), **text_scores(pred, golds, settings)}

    def synthesize(
        self, rng: random.Random, n: int, tag: str, short_passages: bool = False
    ) -> list[ExtractiveRecord]:
        """Passages about the fictional world with 3-8 questions each, every answer an unambiguous span."""
        records: list[ExtractiveRecord] = []
        index = 0
        sentences, words = synth.PASSAGE_SHAPE[short_passages]
        while len(records) < n:
            passage = synth.passage(rng, sentences, words)
            k = min(rng.randint(3, min(8, len(passage.facts))), n - len(records))
            for q, (key, question) in enumerate(rng.sample(passage.facts, k)):
                records.append(ExtractiveRecord(
                    id=f"synth-{tag}-ex-{index:05d}-q{q}", context=passage.text, question=question,
                    answers=[passage.cast[key]], title=passage.cast["P"],
                ))
            index += 1
        return records

    def row(self, record: ExtractiveRecord) -> dict[str, Any]:
        row = super().row(record)
        if not record.unanswerable:
            row.pop("unanswerable", None)  # answerable is the default, and rows read back the same without it
        return row
