"""A run resolved once, before any stage runs (`ResolvedRun`), and what each stage reads of it:
`EvalPlan` for an evaluation, `TrainPlan` for training. No stage gets the config itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lorabench.config.decoding import DecodingSettings
from lorabench.config.prompt import PromptSettings
from lorabench.config.run import RunConfig
from lorabench.config.settings import LoraSettings, MetricSettings, TrainSettings
from lorabench.core.kinds import Task, get_task
from lorabench.pipeline.splits import DataSplits
from lorabench.prompts.build import ResolvedPrompt, resolve_prompt


@dataclass(frozen=True)
class EvalPlan:
    """What an evaluation stage reads of a run: the kind's Task that scores the items, how they are
    prompted (settings resolved against the model), decoded and scored."""

    task: Task
    prompt: ResolvedPrompt
    decoding: DecodingSettings
    metrics: MetricSettings

    @classmethod
    def of(cls, config: RunConfig, prompt: PromptSettings, model: Any) -> EvalPlan:
        """The plan of `config` outside a run (a study's extra evaluations), `prompt` in place of its
        prompt section, fitted to `model` as `resolve_run` fits a run's."""
        max_new_tokens = config.decoding.max_new_tokens_for(config.task)
        return cls(get_task(config.task), resolve_prompt(prompt, model, max_new_tokens), config.decoding, config.metrics)


@dataclass(frozen=True)
class TrainPlan:
    """What the training stage reads of a run: the kind's Task, the resolved prompt and the LoRA,
    training, decoding (validation generates as evaluation does) and metric settings."""

    task: Task
    prompt: ResolvedPrompt
    lora: LoraSettings
    training: TrainSettings
    decoding: DecodingSettings
    metrics: MetricSettings


@dataclass(frozen=True)
class ResolvedRun:
    """A run config resolved once, before any stage runs: its splits and its prompt, settled against
    the model (the few-shot examples drawn from the training split, the prompt length budget left by
    the model's window). Each stage gets its own plan from here, never the config.
    `written` is the config as the user wrote it, which the run folder's config.yaml keeps; `task`
    is its kind's Task, looked up once for every stage."""

    written: RunConfig
    task: Task
    splits: DataSplits
    prompt: ResolvedPrompt

    @property
    def evaluation(self) -> EvalPlan:
        config = self.written
        return EvalPlan(self.task, self.prompt, config.decoding, config.metrics)

    @property
    def training(self) -> TrainPlan:
        config = self.written
        return TrainPlan(self.task, self.prompt, config.lora, config.training, config.decoding, config.metrics)


def resolve_run(config: RunConfig, splits: DataSplits, model: Any) -> ResolvedRun:
    """The run of `config` on `splits` (see `split_data`), its prompt fitted to `model` (a loaded
    model, or a tokenizer and config: the window is read off `.config`), in memory only."""
    max_new_tokens = config.decoding.max_new_tokens_for(config.task)
    return ResolvedRun(config, splits.task, splits, resolve_prompt(splits.prompt, model, max_new_tokens))
