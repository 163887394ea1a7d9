"""`lorabench eval`: one model on one task's items, written to a resumable run folder.

`answer_records` (strategies.py) is the reusable core: each item's row, asked as the prompt's
strategy says and scored by the items' Task, looked up once. `evaluate_records` adds the
aggregates; `evaluate_in_folder` evaluates into a run folder, sharded under a multi-process launch
(the pipeline runs it for the base and the tuned model with identical prompts and decoding), and
results.py writes what the folder reports; `run_eval` adds loading and the folder's config.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from lorabench.core.version import __version__
from lorabench.inference import Backend, check_can_serve, get_backend
from lorabench.data.loaders import load_records
from lorabench.data.leakage import check_leakage, ensure_no_leakage
from lorabench.data.records import Record, records_digest
from lorabench.data.spec import DataSpec
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.core.kinds import Task, get_task
from lorabench.evaluation import sharding
from lorabench.config.decoding import DecodingSettings
from lorabench.evaluation.sharding import current_shard
from lorabench.metrics.scoring import SCORING_VERSION, ScoreSettings, task_metrics
from lorabench.models.load import LoadedModel, ModelSpec, load_model
from lorabench.prompts.few_shot import draw_examples, example_records
from lorabench.comparison.prompt_change import PromptDifference, adapter_prompt_difference, prompt_change_refusal, trained_prompt_settings
from lorabench.evaluation.results import EvalOutcome, write_results
from lorabench.runs.predictions import PredictionRow
from lorabench.config.prompt import PromptSettings, choice_scoring_conflict, follow_choice_mode
from lorabench.prompts.build import ResolvedPrompt, build_prompt, resolve_prompt
from lorabench.prompts.template import check_templates
from lorabench.runs.folder import RunFolder, library_versions
from lorabench.runs.lock import hold_folder
from lorabench.metrics.settings import ScoringSettings
from lorabench.evaluation.strategies import AnswerPlan, Answers, answer_records

Progress = Callable[[int], None]


class EvalConfig(ScoringSettings):
    """Everything that determines an evaluation's numbers; saved as the run's config.yaml.

    The scoring knobs (`short_thresh`, `rouge_threshold`) sit at its top level, where saved eval
    folders have always had them, so those folders still resume.
    """

    model_config = ConfigDict(extra="forbid")

    model: ModelSpec
    adapter: str | None = Field(None, description="LoRA adapter folder applied on top of the model.")
    data: DataSpec
    limit: int | None = Field(None, gt=0, description="Evaluate only the first N items (after slicing/sampling).")
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    decoding: DecodingSettings = Field(default_factory=DecodingSettings)

    @model_validator(mode="after")
    def _choice_target_follows_scoring(self) -> "EvalConfig":
        # The evaluation's choice_mode decides what a choice answer is; an adapter trained for the
        # other one is then refused by the prompt check (its lorabench.json says what it learned).
        self.prompt = follow_choice_mode(self.data.task, self.prompt, self.decoding.choice_mode)
        return self

    def score_settings(self) -> ScoreSettings:
        return ScoreSettings.of(self)


def evaluate_records(
    model: Backend | LoadedModel,
    records: Sequence[Record],
    prompt_settings: PromptSettings | ResolvedPrompt,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    run: RunFolder | None = None,
    progress: Progress | None = None,
) -> EvalOutcome:
    """Predict and score every record (skipping those `run` already holds); rows come back in record order.

    `model` is a backend, or a loaded model to serve through the backend `decoding.backend` names.
    The records are of one kind, whose Task scores them; there is at least one (no empty table of metrics).
    """
    if not records:
        raise LorabenchError("records: nothing to evaluate (the list is empty)")
    task = get_task(records[0].task)
    if isinstance(model, Backend):
        backend = model
        backend.use_engine(decoding.engine)  # a backend made elsewhere generates as `decoding` says
    else:
        backend = get_backend(decoding.backend, model, decoding)
    # The fit reads the context window off `.config`, which a backend has as a model does.
    prompt = resolve_prompt(prompt_settings, backend, decoding.max_new_tokens_for(task.kind)).fitted
    answers = answer_records(AnswerPlan(task, prompt, decoding, score_settings), backend, records, run, progress)
    metrics = task_metrics(task, [row["scores"] for row in answers.rows], [r.golds for r in records], score_settings)
    return EvalOutcome(run, answers.rows, metrics, answers.resumed, engines=answers.engines)


def run_config(config: EvalConfig, loaded: LoadedModel, records: Sequence[Record]) -> dict[str, Any]:
    """config.yaml: the request plus what it resolved to (model hash, template, items), no secrets."""
    chat_template = getattr(loaded.tokenizer, "chat_template", None) or ""
    return {
        "lorabench": __version__,
        "request": config.model_dump(mode="json"),
        "model": loaded.describe(),
        "data": {"n_items": len(records), "sha256": records_digest(get_task(config.data.task), records)},
        "template": {
            "chat": bool(records) and build_prompt(records[0], loaded.tokenizer, config.prompt).chat,
            "chat_template_sha256": hashlib.sha256(chat_template.encode("utf-8")).hexdigest() if chat_template else None,
        },
        "scoring": {**asdict(config.score_settings()), "version": SCORING_VERSION},
        "versions": library_versions(),
    }


def load_eval_records(config: EvalConfig) -> list[Record]:
    records = load_records(config.data).records
    return records[: config.limit] if config.limit else records


def evaluate_in_folder(
    backend: Backend,
    task: Task,
    records: Sequence[Record],
    prompt: PromptSettings,
    decoding: DecodingSettings,
    score_settings: ScoreSettings,
    out: Path,
    folder_config: dict[str, Any],
    force: bool = False,
    progress_factory: Callable[[int, list[PredictionRow]], Progress] | None = None,
) -> EvalOutcome:
    """Evaluate `records` into the run folder `out` (created, or resumed when its config equals
    `folder_config`), leaving `predictions.jsonl` in item order.

    Under a multi-process launch each process evaluates its shard (see `sharding`) and rank 0
    merges them: rank 0 gets the outcome of all items, the other processes their shard's.
    `progress_factory(items, rows already done)` makes this process's progress callback. `task` is
    the records' kind's, and `prompt` and `backend` are as `answer_records` takes them.
    """
    share = sharding.share_stage(out, folder_config, records, force)
    done = share.part.completed()
    already = [done[r.id] for r in share.records if r.id in done]
    progress = progress_factory(len(share.records), already) if progress_factory else None
    answers = Answers([], 0, [])  # dealt nothing (fewer context groups than processes): it still meets the barriers
    if share.records:
        plan = AnswerPlan(task, prompt, decoding, score_settings)
        answers = answer_records(plan, backend, share.records, share.part, progress)
    merged = sharding.merge_share(share, records, answers.rows, answers.engines)
    if merged is None:  # another process of a launch: the outcome of its own share
        run, items, rows, engines = share.part, share.records, answers.rows, answers.engines
    else:
        run, items, (rows, engines) = share.run, list(records), merged
    metrics = task_metrics(task, [row["scores"] for row in rows], [r.golds for r in items], score_settings)
    return EvalOutcome(run, rows, metrics, answers.resumed, engines=engines)


def with_few_shot_examples(config: EvalConfig, records: Sequence[Record], few_shot_from: Path | None) -> EvalConfig:
    """`config` with prompt.few_shot's examples in place: drawn from the training records in
    `few_shot_from`, else the adapter's own (saved in its lorabench.json). An example that is also
    an evaluation item (by the train-vs-test leakage rules) is refused."""
    few_shot = config.prompt.few_shot
    if few_shot is None:
        if few_shot_from is not None:
            raise LorabenchError.about(
                "few_shot_from", Message("the prompt settings have no few_shot; give them with ", Hint("prompt", "FILE")))
        return config
    task = get_task(config.data.task)
    if few_shot_from is not None:
        pool = load_records(DataSpec(path=str(few_shot_from), task=config.data.task)).records
        few_shot = draw_examples(pool, few_shot, task)
    elif not few_shot.drawn:
        trained = trained_prompt_settings(Path(config.adapter)) if config.adapter else None
        if trained is None or trained.few_shot is None:
            raise LorabenchError(Message(
                "prompt.few_shot: evaluation needs its examples: give ", Hint("few_shot_from", "FILE"),
                " (training records) or an ", Hint("adapter", ""), " trained with few_shot",
            ))
        few_shot = few_shot.model_copy(update={"examples": trained.few_shot.examples})
    report = check_leakage(example_records(few_shot, task.record_type), records)
    ensure_no_leakage(report, False, "few-shot examples vs evaluation items",
                      "Draw the examples from data the evaluation items are not in.")
    return config.model_copy(update={"prompt": config.prompt.model_copy(update={"few_shot": few_shot})})


def _prompt_change(
    config: EvalConfig, loaded: LoadedModel, records: Sequence[Record], prompt: ResolvedPrompt, allow: bool
) -> PromptDifference | None:
    """How the adapter would be prompted differently from its training (`prompt`: the evaluation's,
    config.prompt fitted to the model): refused unless `allow`."""
    if config.adapter is None:
        return None
    difference = adapter_prompt_difference(Path(config.adapter), records, loaded.tokenizer, loaded.model, prompt)
    if difference is not None and not allow:
        hint = Message(", or ", Hint("prompt", Path(config.adapter) / "lorabench.json"), " to use its training prompt")
        trained = trained_prompt_settings(Path(config.adapter))
        if trained is not None and trained.choice_answer != config.prompt.choice_answer:
            modes = "logprob" if trained.choice_answer == "text" else "letter or generate"
            hint = Message(
                ", or ", Hint("decoding.choice_mode", modes), ": the adapter was trained to write the option's "
                f"{trained.choice_answer}, and ", Hint("decoding.choice_mode", config.decoding.choice_mode),
                f" scores its {config.prompt.choice_answer}",
            )
        raise prompt_change_refusal(Path(config.adapter), difference, hint)
    return difference


def run_eval(
    config: EvalConfig,
    out: Path,
    force: bool = False,
    progress_factory: Callable[[int, int], Progress] | None = None,
    allow_prompt_change: bool = False,
    few_shot_from: Path | None = None,
) -> EvalOutcome:
    """Load data and model, evaluate into `out` (resuming), and write metrics.json.

    An adapter trained with other prompt settings (its lorabench.json) is refused unless
    `allow_prompt_change`, which the folder's config.yaml and metrics.json then record.
    Under a multi-process launch each process evaluates its shard (see `sharding`) and rank 0
    merges them and writes metrics.json; the other processes return their own shard's outcome.
    `out` is held for the whole evaluation: a second process on it is refused before it writes.
    """
    with hold_folder(Path(out), "out", enabled=current_shard().main):
        return _eval_held(config, out, force, progress_factory, allow_prompt_change, few_shot_from)


def _eval_held(
    config: EvalConfig,
    out: Path,
    force: bool,
    progress_factory: Callable[[int, int], Progress] | None,
    allow_prompt_change: bool,
    few_shot_from: Path | None,
) -> EvalOutcome:
    conflict = choice_scoring_conflict(config.data.task, config.prompt, config.decoding.choice_mode)
    if conflict:
        raise LorabenchError.about("decoding.choice_mode", conflict)
    check_can_serve(config.decoding, config.data.task, with_adapter=config.adapter is not None)
    records = load_eval_records(config)
    config = with_few_shot_examples(config, records, few_shot_from)
    task = get_task(config.data.task)
    check_templates(records, config.prompt, task)
    loaded = load_model(config.model, adapter=config.adapter)
    prompt = resolve_prompt(config.prompt, loaded.model, config.decoding.max_new_tokens_for(task.kind))
    change = _prompt_change(config, loaded, records, prompt, allow_prompt_change)
    folder_config = run_config(config, loaded, records)
    if change is not None:
        folder_config["prompt_change"] = {**change.to_dict(), "allowed_by": "--allow-prompt-change"}
    backend = get_backend(config.decoding.backend, loaded, config.decoding)
    started = time.perf_counter()
    outcome = evaluate_in_folder(
        backend, task, records, prompt.fitted, config.decoding, config.score_settings(), out, folder_config, force,
        (lambda total, done: progress_factory(total, len(done))) if progress_factory else None,
    )
    if not current_shard().main:
        return outcome
    extra: dict[str, Any] = {
        "timing": {"seconds_this_session": round(time.perf_counter() - started, 2), "resumed_items": outcome.resumed},
        "flags": {
            "hit_max_new_tokens": sum(r["hit_max_new_tokens"] for r in outcome.rows),
            "prompt_shortened": sum(r["prompt_shortened"] for r in outcome.rows),
        },
    }
    if change is not None:
        extra["prompt_change"] = folder_config["prompt_change"]
    write_results(outcome, folder_config["model"], extra)
    return replace(outcome, prompt_change=change)
