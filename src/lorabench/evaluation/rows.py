"""Prediction rows of generated answers, whichever strategy asked the question."""

from __future__ import annotations

from lorabench.inference.base import Generation
from lorabench.runs.predictions import CostFields, PredictionRow
from lorabench.prompts.build import Prompt


def generated_row(
    record_id: str, prompt: Prompt, gold: list[str], prediction: str, scores: dict[str, float], gen: Generation,
    hit_max_new_tokens: bool, cost: CostFields, parse_error: str | None = None,
) -> PredictionRow:
    """The row of one question answered by `gen` (the context's generation for the batch strategy)."""
    return PredictionRow(
        id=record_id,
        prompt=prompt.text,
        gold=gold,
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
