"""`lorabench eval`: one model on one task's items, written to a resumable run folder.

`evaluate_records` is the reusable core (the pipeline runs it for the base and the tuned model
with identical prompts and decoding); `run_eval` adds loading, the run folder and resume.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import lorabench
from lorabench.data.loaders import load_records
from lorabench.data.records import ChoiceRecord, Record, TaskKind, record_to_row
from lorabench.data.spec import DataSpec
from lorabench.evaluate.choice import option_continuations, score_letters, score_options
from lorabench.evaluate.generate import Generation, GenerationSettings, generate
from lorabench.evaluate.settings import DecodingSettings
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, TaskMetrics, score_all, score_item
from lorabench.models import LoadedModel, ModelSpec, load_model
from lorabench.prompts import STOP_STRINGS, Prompt, PromptSettings, answer_from_generation, build_prompt, fit_to_model
from lorabench.runs import RunFolder, write_json

Progress = Callable[[int], None]


class EvalConfig(BaseModel):
    """Everything that determines an evaluation's numbers; saved as the run's config.yaml."""

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    adapter: str | None = Field(None, description="LoRA adapter folder applied on top of the model.")
    data: DataSpec
    limit: int | None = Field(None, gt=0, description="Evaluate only the first N items (after slicing/sampling).")
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    decoding: DecodingSettings = Field(default_factory=DecodingSettings)
    short_thresh: int = Field(3, ge=1, description="Gold answers of at most this many tokens are 'short'.")
    rouge_threshold: float = Field(0.5, ge=0, le=1, description="ROUGE-L F at or above this counts for rouge_l_acc.")

    def score_settings(self) -> ScoreSettings:
        return ScoreSettings(short_thresh=self.short_thresh, rouge_threshold=self.rouge_threshold)


@dataclass
class EvalOutcome:
    run: RunFolder | None
    rows: list[dict[str, Any]]
    metrics: TaskMetrics
    resumed: int  # items found already done in the folder


def score_input(record: Record, prediction: str) -> ScoreInput:
    options = record.options if isinstance(record, ChoiceRecord) else None
    return ScoreInput(list(record.golds), prediction, options)


def _generation_row(record: Record, prompt: Prompt, gen: Generation, settings: ScoreSettings) -> dict[str, Any]:
    answer = answer_from_generation(record.task, gen.text)
    return {
        "id": record.id,
        "prompt": prompt.text,
        "gold": list(record.golds),
        "prediction": answer,
        "raw": gen.text,
        "scores": score_item(record.task, score_input(record, answer), settings),
        "prompt_tokens": gen.prompt_tokens,
        "generated_tokens": gen.generated_tokens,
        "latency_s": round(gen.latency_s, 4),
        "hit_max_new_tokens": gen.hit_max_new_tokens,
        "stop_reason": gen.stop_reason,
        "prompt_shortened": prompt.shortened,
    }


def _choice_row(
    loaded: LoadedModel, record: ChoiceRecord, prompt: Prompt, decoding: DecodingSettings, settings: ScoreSettings
) -> dict[str, Any]:
    start = time.perf_counter()
    if decoding.choice_mode == "letter":
        logprobs = score_letters(loaded.model, loaded.tokenizer, prompt, record.labels)
        label = max(logprobs, key=logprobs.get)
        detail: dict[str, Any] = {"letter_logprob": logprobs}
    else:
        continuations = option_continuations(record, prompt)
        scores = score_options(loaded.model, loaded.tokenizer, prompt, continuations, record.labels, loaded.is_seq2seq)
        label = scores.prediction(decoding.choice_normalization)
        detail = {"option_logprob": dict(zip(record.labels, scores.sum_logprob)), "option_tokens": scores.n_tokens}
    return {
        "id": record.id,
        "prompt": prompt.text,
        "gold": [record.answer],
        "prediction": label,
        "scores": score_item(record.task, score_input(record, label), settings),
        "prompt_tokens": prompt.n_tokens,
        "generated_tokens": 0,
        "latency_s": round(time.perf_counter() - start, 4),
        "hit_max_new_tokens": False,
        "stop_reason": decoding.choice_mode,
        "prompt_shortened": prompt.shortened,
        **detail,
    }


def evaluate_records(
    loaded: LoadedModel,
    records: Sequence[Record],
    prompt_settings: PromptSettings,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    run: RunFolder | None = None,
    progress: Progress | None = None,
) -> EvalOutcome:
    """Predict and score every record (skipping those `run` already holds); rows come back in record order."""
    done = run.completed() if run else {}
    todo = [r for r in records if r.id not in done]
    if records:
        prompt_settings = fit_to_model(prompt_settings, loaded.model, decoding.max_new_tokens_for(records[0].task))
    prompts = {r.id: build_prompt(r, loaded.tokenizer, prompt_settings) for r in todo}
    by_id = {r.id: r for r in todo}
    fresh: dict[str, dict[str, Any]] = {}

    def keep(row: dict[str, Any]) -> None:
        fresh[row["id"]] = row
        if run:
            run.append([row])
        if progress:
            progress(1)

    if todo:
        task = todo[0].task
        if task is TaskKind.choice and decoding.choice_mode != "generate":
            for record in todo:
                keep(_choice_row(loaded, record, prompts[record.id], decoding, score_settings))  # type: ignore[arg-type]
        else:
            gen_settings = GenerationSettings(
                max_new_tokens=decoding.max_new_tokens_for(task),
                batch_size=decoding.batch_size,
                stop_strings=STOP_STRINGS[task],
            )
            for gen in generate(loaded.model, loaded.tokenizer, list(prompts.values()), gen_settings, loaded.is_seq2seq):
                keep(_generation_row(by_id[gen.record_id], prompts[gen.record_id], gen, score_settings))

    rows = [done.get(r.id) or fresh[r.id] for r in records]
    _, metrics = score_all(
        records[0].task, [score_input(r, row["prediction"]) for r, row in zip(records, rows)], score_settings
    )
    return EvalOutcome(run, rows, metrics, resumed=len(records) - len(todo))


def records_digest(records: Sequence[Record]) -> str:
    """A fingerprint of the exact items evaluated, so a resumed or compared run uses the same ones."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(json.dumps(record_to_row(record), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def run_config(config: EvalConfig, loaded: LoadedModel, records: Sequence[Record]) -> dict[str, Any]:
    """config.yaml: the request plus what it resolved to (model hash, template, items), no secrets."""
    chat_template = getattr(loaded.tokenizer, "chat_template", None) or ""
    return {
        "lorabench": lorabench.__version__,
        "request": config.model_dump(mode="json"),
        "model": loaded.describe(),
        "data": {"n_items": len(records), "sha256": records_digest(records)},
        "template": {
            "chat": bool(records) and build_prompt(records[0], loaded.tokenizer, config.prompt).chat,
            "chat_template_sha256": hashlib.sha256(chat_template.encode("utf-8")).hexdigest() if chat_template else None,
        },
        "scoring": asdict(config.score_settings()),
    }


def load_eval_records(config: EvalConfig) -> list[Record]:
    records = load_records(config.data).records
    return records[: config.limit] if config.limit else records


def run_eval(
    config: EvalConfig,
    out: Path,
    force: bool = False,
    progress_factory: Callable[[int, int], Progress] | None = None,
) -> EvalOutcome:
    """Load data and model, evaluate into `out` (resuming), and write metrics.json."""
    records = load_eval_records(config)
    loaded = load_model(config.model, adapter=config.adapter)
    run = RunFolder.open(out, run_config(config, loaded, records), force=force)
    progress = progress_factory(len(records), len(run.completed())) if progress_factory else None
    started = time.perf_counter()
    outcome = evaluate_records(
        loaded, records, config.prompt, config.decoding, config.score_settings(), run=run, progress=progress
    )
    summary = outcome.metrics.to_dict()
    summary["timing"] = {"seconds_this_session": round(time.perf_counter() - started, 2), "resumed_items": outcome.resumed}
    summary["flags"] = {
        "hit_max_new_tokens": sum(bool(r.get("hit_max_new_tokens")) for r in outcome.rows),
        "prompt_shortened": sum(bool(r.get("prompt_shortened")) for r in outcome.rows),
    }
    write_json(run.metrics_path, summary)
    return outcome
