"""`lorabench run CONFIG --dry-run`: everything `run` checks before its first file, and the plan.

Loads and splits the data and checks leakage exactly as `run` does (same refusals), reads the
model's tokenizer and config and builds the model on the meta device (no weights are read or
allocated) to check the LoRA targets and count parameters, renders every prompt to count its
tokens, says which precision runs (on a CPU with a measured product in float32 and bfloat16), and
says what the run will do and write. It writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lorabench.config.run import RunConfig
from lorabench.core.kinds import get_task
from lorabench.core.messages import Hint, Message
from lorabench.models.load import load_tokenizer
from lorabench.models.precision import PrecisionPlan, plan_precision
from lorabench.pipeline.resolve import resolve_run
from lorabench.pipeline.splits import DataSplits, split_data
from lorabench.prompts.answers import STOP_STRINGS
from lorabench.prompts.build import Prompt, PromptBuilder, TokenCounts, model_context_length
from lorabench.pipeline.retention import plan_retention
from lorabench.training.lora import check_target_modules, lora_parameter_count, meta_model
from lorabench.training.arguments import total_steps
from lorabench.training.examples import prompt_example


@dataclass(frozen=True)
class RunPlan:
    config: RunConfig
    splits: DataSplits
    model_type: str
    parameters: int
    lora_parameters: int
    context_window: int | None
    chat: bool
    prompts: dict[str, TokenCounts]  # train / test
    answer_tokens: TokenCounts  # learned tokens per training example (answer + end token)
    steps: int
    examples: tuple[Prompt, Prompt]  # the first training and the first test prompt
    train_target: str
    stages: dict[str, str]  # stage -> "to run" | "finished (reused)"
    writes: list[str]
    retention: list[str]  # lm-eval tasks checked on base and tuned (lm-eval installed, names known)
    precision: PrecisionPlan | None = None  # which dtype runs; on a CPU, what bfloat16 would buy (measured)


def _stages(out: Path) -> dict[str, str]:
    done = {
        "base evaluation": out / "base" / "metrics.json",
        "training": out / "train" / "stage.json",
        "tuned evaluation": out / "tuned" / "metrics.json",
    }
    reused = Message("finished (reused unless ", Hint("force"), ")")
    return {stage: reused if path.exists() else "to run" for stage, path in done.items()}


def plan_run(config: RunConfig, say: Callable[[str], None]) -> RunPlan:
    """Check the config, data and model as `run` would and describe the run, writing nothing."""
    splits = split_data(config, say)
    retention = plan_retention(config.retention, config.model).tasks if config.retention.tasks else []
    model = load_tokenizer(config.model)
    meta = meta_model(model, config.model.trust_remote_code)
    check_target_modules(meta, config.lora.target_modules)
    lora_parameters = lora_parameter_count(meta, config.lora.target_modules, config.lora.r)
    # One builder with the settings the run will resolve, so these are the prompts it will show.
    builder = PromptBuilder(model.tokenizer, resolve_run(config, splits, model).prompt.fitted)
    train_prompts = [builder.prompt(r) for r in splits.train]
    test_prompts = [builder.prompt(r) for r in splits.test]
    window = model_context_length(model)
    max_length = None if model.is_seq2seq else window
    learned = [prompt_example(p, model.tokenizer, model.is_seq2seq, max_length).learned_tokens for p in train_prompts]
    out = Path(config.out)
    return RunPlan(
        config=config,
        splits=splits,
        model_type=str(getattr(model.config, "model_type", "?")),
        parameters=sum(p.numel() for p in meta.parameters()),
        lora_parameters=lora_parameters,
        context_window=window,
        chat=bool(test_prompts) and test_prompts[0].chat,
        prompts={"train": TokenCounts.of_prompts(train_prompts), "test": TokenCounts.of_prompts(test_prompts)},
        answer_tokens=TokenCounts.of(learned),
        steps=total_steps(len(splits.train), config.training, 1),
        examples=(train_prompts[0], test_prompts[0]),
        train_target=train_prompts[0].target,
        stages=_stages(out),
        writes=[
            f"{out}/config.yaml, data/ (train, validation, test .jsonl)",
            f"{out}/base/ and {out}/tuned/: predictions.jsonl, metrics.json, config.yaml",
            f"{out}/train/: checkpoints/, train_log.jsonl, adapter/ (LoRA weights, tokenizer, lorabench.json, README.md)",
            f"{out}/summary.json, summary.csv, report.html, report.md, plots/, tables/",
            *([f"{out}/retention/base/ and retention/tuned/: lm-eval results and samples"] if retention else []),
        ],
        retention=retention,
        precision=plan_precision(config.model),
    )


def _tokens(counts: TokenCounts) -> str:
    return f"mean {counts.mean:.0f}, max {counts.max}, total {counts.total:,}" + (
        f"; {counts.shortened} shortened to fit" if counts.shortened else ""
    )


def plan_lines(plan: RunPlan) -> list[str]:
    """The plan as plain lines (data text included verbatim: print them without markup)."""
    config, splits = plan.config, plan.splits
    training, decoding = config.training, config.decoding
    epochs = f"max_steps {training.max_steps}" if training.max_steps else f"{training.epochs:g} epoch(s)"
    window = f"{plan.context_window}-token context" if plan.context_window else "context length not stated"
    share = 100 * plan.lora_parameters / plan.parameters if plan.parameters else math.nan
    stops = ", ".join(repr(s) for s in STOP_STRINGS[config.task])
    train_prompt, test_prompt = plan.examples
    lines = [
        f"dry run of {config.out}: nothing was trained, evaluated or written",
        f"data: {len(splits.train)} train, {len(splits.validation)} validation ({splits.validation_from}), "
        f"{len(splits.test)} test items",
        f"model: {config.model.name} ({plan.model_type}, {plan.parameters / 1e6:.1f}M parameters, {window}); "
        f"{'chat template' if plan.chat else 'plain prompts'}",
        *(plan.precision.lines() if plan.precision else []),
        f"LoRA: r {config.lora.r}, alpha {config.lora.alpha}, targets {config.lora.target_modules}: "
        f"{plan.lora_parameters:,} trainable parameters ({share:.2f}% of the base)",
        f"prompt tokens: train {_tokens(plan.prompts['train'])}; test {_tokens(plan.prompts['test'])}",
        f"learned tokens per training example: {_tokens(plan.answer_tokens)}",
        f"training: {plan.steps} optimizer steps ({epochs}, batch {training.batch_size} x grad_accum "
        f"{training.grad_accum}, lr {training.lr:g}, {training.schedule}), validation every {training.eval_every}",
        f"evaluation: {len(splits.test)} test items, twice (base, then base + adapter), backend {decoding.backend}, "
        + (f"choice scored by {decoding.choice_mode}" if get_task(config.task).scoring_strategy(decoding.choice_mode) != "generate"
           else f"greedy up to {decoding.max_new_tokens_for(config.task)} new tokens, stops {stops}"),
        *(Message(f"{stage}: ", state) for stage, state in plan.stages.items()),
        *([f"retention (lm-eval, base and tuned): {', '.join(plan.retention)}"] if plan.retention else []),
        "writes:",
        *(f"  {line}" for line in plan.writes),
        f"first training prompt ({train_prompt.record_id}, {train_prompt.n_tokens} tokens), then its target:",
        train_prompt.text,
        f"-> {plan.train_target}",
        f"first test prompt ({test_prompt.record_id}, {test_prompt.n_tokens} tokens):",
        test_prompt.text,
    ]
    return lines
