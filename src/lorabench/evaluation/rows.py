"""A question's prediction row: its answer scored by the kind's Task, beside what making it cost.

Every strategy (evaluation/strategies.py) writes its rows through here, so a row is scored the
same way whichever strategy asked the question, and carries its share of what its context cost
(`ContextCost`: a total over one call for single, one context for batch, one conversation for
sequential), so that means over rows compare strategies directly (accounting.py reads them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lorabench.config.prompt import Strategy
from lorabench.core.kinds import Task
from lorabench.data.records import Record
from lorabench.inference.base import Generation
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.runs.predictions import CostFields, PredictionRow
from lorabench.prompts.build import Prompt


def item_scores(task: Task, record: Record, prediction: str, settings: ScoreSettings = ScoreSettings()) -> dict[str, float]:
    """Every metric of the kind for `prediction` against the record's golds (and its options, for a
    kind that has them), each in [0, 1]. Raises ValueError for an unusable gold."""
    return task.score(ScoreInput(list(record.golds), prediction, task.options(record)), settings)


def generated_row(
    task: Task, record: Record, prompt: Prompt, prediction: str, gen: Generation, hit_max_new_tokens: bool,
    cost: CostFields, settings: ScoreSettings, parse_error: str | None = None,
) -> PredictionRow:
    """The row of one question answered by `gen` (the context's generation for the batch strategy)."""
    # A question without a usable answer is wrong on every metric; scoring its empty prediction
    # would count it right whenever the gold is "unanswerable".
    scores = {name: 0.0 for name in task.metrics} if parse_error else item_scores(task, record, prediction, settings)
    return PredictionRow(
        id=record.id,
        prompt=prompt.text,
        gold=list(record.golds),
        prediction=prediction,
        raw=gen.text,
        scores=scores,
        prompt_tokens=gen.prompt_tokens,
        generated_tokens=gen.generated_tokens,
        latency_s=round(gen.latency_s, 4),
        hit_max_new_tokens=hit_max_new_tokens,
        stop_reason=gen.stop_reason,
        prompt_shortened=prompt.shortened,
        **cost,
        parse_failure=parse_error is not None,
        parse_error=parse_error,
    )


def option_row(
    task: Task, record: Record, prompt: Prompt, label: str, strategy: str, latency_s: float, settings: ScoreSettings
) -> PredictionRow:
    """The row of a record whose kind scores its options (no generation): `label` is the best
    option's under `strategy` (the engine's: letter or logprob), which the row keeps as its stop reason."""
    return PredictionRow(
        id=record.id,
        prompt=prompt.text,
        gold=list(record.golds),
        prediction=label,
        scores=item_scores(task, record, label, settings),
        prompt_tokens=prompt.n_tokens,
        generated_tokens=0,
        latency_s=round(latency_s, 4),
        hit_max_new_tokens=False,
        stop_reason=strategy,
        prompt_shortened=prompt.shortened,
    )


@dataclass(frozen=True)
class ContextCost:
    questions: int  # questions the cost is shared by
    prompt_tokens: int  # tokens the model read, each once (as with a KV cache kept across turns)
    generated_tokens: int
    api_prompt_tokens: int  # prompt tokens an API bills: each call re-sends its whole prompt
    latency_s: float

    def row_fields(self, strategy: Strategy, questions_in_context: int) -> CostFields:
        n = self.questions
        return CostFields(
            strategy=strategy,
            questions_in_context=questions_in_context,
            prompt_tokens_per_question=round(self.prompt_tokens / n, 4),
            generated_tokens_per_question=round(self.generated_tokens / n, 4),
            api_prompt_tokens=round(self.api_prompt_tokens / n, 4),
            latency_per_question_s=round(self.latency_s / n, 6),
        )


def single_cost(gen: Generation) -> ContextCost:
    return ContextCost(1, gen.prompt_tokens, gen.generated_tokens, gen.prompt_tokens, gen.latency_s)


def batch_cost(gen: Generation, questions: int) -> ContextCost:
    """One prompt and one generation answer all `questions`."""
    return ContextCost(questions, gen.prompt_tokens, gen.generated_tokens, gen.prompt_tokens, gen.latency_s)


def sequential_cost(turns: Sequence[Generation]) -> ContextCost:
    """A conversation of one turn per question.

    The last turn's prompt contains every earlier turn. With a KV cache the model reads each of those
    tokens once, except its own earlier answers, which it generated rather than read: unique prompt
    tokens = last prompt - sum of earlier turns' generated tokens. An API re-sends the history with
    every turn, so it bills the sum of all turns' prompts.
    """
    earlier_generated = sum(turn.generated_tokens for turn in turns[:-1])
    return ContextCost(
        questions=len(turns),
        prompt_tokens=max(0, turns[-1].prompt_tokens - earlier_generated),
        generated_tokens=sum(turn.generated_tokens for turn in turns),
        api_prompt_tokens=sum(turn.prompt_tokens for turn in turns),
        latency_s=sum(turn.latency_s for turn in turns),
    )
