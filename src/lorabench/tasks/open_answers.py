"""Open instruction answers (Dolly / Alpaca style): an instruction, an optional context, a free-text response."""

import random
from typing import Any, ClassVar

from pydantic import field_validator

from lorabench.data import synth
from lorabench.data.records import BaseRecord, context_group, require_text
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, text_scores
from lorabench.metrics.squad import exact_match
from lorabench.core.kinds import Task, TaskKind



class OpenRecord(BaseRecord):
    """Dolly-style instruction with an optional context and a free-text response."""

    task: ClassVar[TaskKind] = TaskKind("open")
    instruction: str
    response: str
    context: str = ""
    category: str | None = None

    @field_validator("instruction", "response")
    @classmethod
    def _text(cls, value: str, info: Any) -> str:
        return require_text(value, info.field_name)

    @property
    def group_id(self) -> str:
        return context_group(self.context) if self.context.strip() else super().group_id

    @property
    def question_text(self) -> str:
        return self.instruction

    @property
    def context_text(self) -> str:
        return self.context

    @property
    def golds(self) -> list[str]:
        return [self.response]


class OpenTask(Task):
    record_type = OpenRecord
    field_aliases = {  # Dolly (instruction/context/response) and Alpaca (instruction/input/output)
        "instruction": ("instruction", "prompt", "question"),
        "context": ("context", "input"),
        "response": ("response", "output", "answer", "completion"),
        "category": ("category",),
    }
    instruction = "Follow the instruction."
    cue = "Response:"
    stop_strings = ("\n\nInstruction:", "\nInstruction:", "\n\nContext:")
    max_new_tokens = 256
    metrics = ("exact_match", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc")
    primary_metric = "rouge_l_acc"
    error_categories = ("empty", "cut", "verbose", "partial", "wrong")
    short_subset = True
    judged = True

    def task_text(self, record: OpenRecord, instruction: str, context: str) -> str:
        parts = [instruction, f"Instruction: {record.instruction}"]
        if context.strip():
            parts.append(f"Context: {context}")
        return "\n\n".join(parts)

    def target(self, record: OpenRecord) -> str:
        return record.response

    def score(self, item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
        return {"exact_match": exact_match(item.prediction, item.golds), **text_scores(item.prediction, item.golds, settings)}

    def synthesize(self, rng: random.Random, n: int, tag: str) -> list[OpenRecord]:
        """Instructions about a passage (a quarter of them summaries), answered from the passage."""
        records: list[OpenRecord] = []
        for i in range(n):
            passage = synth.passage(rng, (3, 5))
            cast = passage.cast
            if rng.random() < 0.25:
                # Summaries restate the first two sentences so the response is checkable against the context.
                instruction = f"In one or two sentences, summarise what the passage says about {cast['P']}."
                response = " ".join(synth.TOPICS[t].summary.format(**cast) for t in passage.topics[:2])
                category = "summarization"
            else:
                topic = synth.TOPICS[rng.choice(passage.topics)]
                instruction = rng.choice(topic.instructions).format(**cast)
                response, category = topic.summary.format(**cast), topic.category
            records.append(OpenRecord(
                id=f"synth-{tag}-open-{i:05d}", instruction=instruction, context=passage.text,
                response=response, category=category,
            ))
        return records
