"""Decoding settings shared by evaluation and by validation during training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

from lorabench.data.records import TaskKind
from lorabench.core.kinds import ByKind

# Long enough for each task's expected answer (each kind's module declares it); a cut answer is
# flagged per item, not hidden.
DEFAULT_MAX_NEW_TOKENS: ByKind[int] = ByKind("max_new_tokens")


class DecodingSettings(BaseModel):
    """How answers are produced. Base and tuned models must be evaluated with the same settings."""

    model_config = ConfigDict(extra="forbid")

    max_new_tokens: int | None = Field(
        None, gt=0, description="Per-task default when unset (each task module declares one: extractive 32, open 256, ...)."
    )
    batch_size: int = Field(
        8, gt=0,
        description="Answers generated at once: continuous batching keeps this many slots busy, refilling one as its"
        " answer ends; models it does not support generate padded batches of this size, sorted by length.",
    )
    choice_mode: Literal["logprob", "letter", "generate"] = Field(
        "logprob",
        description="Multiple choice: score each option's text ('logprob'), read the next-token "
        "probability of each letter ('letter'), or generate and parse a letter ('generate').",
    )
    choice_normalization: Literal["sum", "mean", "char"] = Field(
        "mean", description="'logprob' mode: total, per-token or per-character log-probability of an option."
    )
    backend: Literal["hf", "vllm"] = Field(
        "hf",
        description="Engine that runs the model: transformers in this process ('hf'), or vLLM ('vllm': needs "
        "pip install 'lorabench[vllm]' and a CUDA GPU). Validation during training always uses 'hf'.",
    )

    @model_serializer(mode="wrap")
    def _omit_default_backend(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and training fingerprints from before backends existed must still match an
        # 'hf' run, so the default is left out; loading a config without it gives 'hf' again.
        data = handler(self)
        if self.backend == "hf":
            data.pop("backend", None)
        return data

    def max_new_tokens_for(self, task: TaskKind) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[TaskKind(task)]
