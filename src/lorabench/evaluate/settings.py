"""Decoding settings shared by evaluation and by validation during training."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lorabench.data.records import TaskKind

# Long enough for each task's expected answer; a cut answer is flagged per item, not hidden.
DEFAULT_MAX_NEW_TOKENS: dict[TaskKind, int] = {
    TaskKind.extractive: 32,
    TaskKind.open: 256,
    TaskKind.choice: 8,
    TaskKind.math: 320,
}


class DecodingSettings(BaseModel):
    """How answers are produced. Base and tuned models must be evaluated with the same settings."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(
        None, gt=0, description="Per-task default when unset (extractive 32, open 256, choice 8, math 320)."
    )
    batch_size: int = Field(8, gt=0, description="Items per generate call; items are sorted by length to cut padding.")
    choice_mode: Literal["logprob", "letter", "generate"] = Field(
        "logprob",
        description="Multiple choice: score each option's text ('logprob'), read the next-token "
        "probability of each letter ('letter'), or generate and parse a letter ('generate').",
    )
    choice_normalization: Literal["sum", "mean", "char"] = Field(
        "mean", description="'logprob' mode: total, per-token or per-character log-probability of an option."
    )

    def max_new_tokens_for(self, task: TaskKind) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[TaskKind(task)]
