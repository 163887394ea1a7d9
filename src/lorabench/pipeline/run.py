"""`lorabench run`: leakage check -> base eval -> train -> tuned eval -> paired comparison, and
the retention check (lm-eval tasks before and after) when the config lists tasks.

Each stage leaves its outputs in the run folder and is skipped on a rerun when they exist for
the same settings, so a crash or a closed laptop costs only the unfinished stage. The data is
split and checked first (pipeline/splits.py), then the run is resolved once (pipeline/resolve.py)
and each stage gets its plan from there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.core.version import __version__
from lorabench.comparison.paired import MetricComparison, ShortSubset, compare_rows, short_subset
from lorabench.config.run import RunConfig
from lorabench.data.records import Record, records_digest
from lorabench.core.messages import Hint, Message
from lorabench.pipeline.judge_stage import Headline, choose_headline, judge_stage
from lorabench.judging.answers import check_judge
from lorabench.results.judged import JudgeResult
from lorabench.inference import check_can_serve, get_backend, release_engines
from lorabench.evaluation.runner import EvalOutcome, evaluate_in_folder, write_results
from lorabench.evaluation.sharding import barrier, current_shard
from lorabench.comparison.guards import (
    Finding,
    PromptDifference,
    adapter_applied,
    adapter_prompt_difference,
    format_mismatch,
    generation_guards,
    prompt_change_refusal,
)
from lorabench.core.notices import Say, alarm, log
from lorabench.metrics.scoring import SCORING_VERSION, ScoreSettings
from lorabench.models.load import LoadedModel, load_model
from lorabench.runs.predictions import PredictionRow
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import ResolvedPrompt, fit_to_model
from lorabench.report.model_card import write_model_card
from lorabench.report.write import write_report
from lorabench.results import RunSummary
from lorabench.pipeline.retention import RetentionResult, plan_retention, run_retention
from lorabench.runs.folder import csv_text, ensure_run_folder, library_versions, write_atomic, write_json
from lorabench.runs.lock import hold_folder
from lorabench.pipeline.resolve import EvalPlan, TrainPlan, resolve_run
from lorabench.pipeline.splits import DataSplits, save_splits, split_data
from lorabench.tracking.send import RunTracking, begin_tracking, finish_tracking, run_tracking
from lorabench.tracking.trainer import trainer_reports_here, trainer_sessions_closed
from lorabench.evaluation.accounting import row_cost
from lorabench.training.train import TrainResult, train_adapter
from lorabench.training.lora import check_target_modules

# (stage name, items, items already done, recorded seconds of a stage found finished) -> advance(k)
ProgressFactory = Callable[[str, int, int, "float | None"], Callable[[int], None]]


@dataclass
class PipelineResult:
    out: Path
    base: EvalOutcome
    tuned: EvalOutcome
    comparisons: list[MetricComparison]
    findings: list[Finding]
    train: TrainResult | None
    summary: RunSummary | None  # None on the processes other than rank 0 of a multi-process launch
    report: Path
    short: ShortSubset | None = None  # base vs tuned on the short-answer subset (tasks that have one)
    retention: RetentionResult | None = None  # lm-eval tasks base vs tuned, when the config lists some
    judge: JudgeResult | None = None  # the judge's grades and preference, when the config has a judge: section
    headline: Headline | None = None  # which metric's verdict is the run's (metrics.primary, the judge's check)


def eval_stage(
    name: str,
    loaded: LoadedModel,
    records: list[Record],
    plan: EvalPlan,
    out: Path,
    force: bool,
    progress: ProgressFactory | None,
) -> EvalOutcome:
    """Evaluate into out/<name>; the folder's config makes base and tuned provably comparable."""
    decoding = plan.decoding
    settings = plan.prompt.settings if isinstance(plan.prompt, ResolvedPrompt) else plan.prompt
    model = loaded.describe()
    stage_config = {
        "stage": name,
        "model": model,
        "items": {"n": len(records), "sha256": records_digest(records, extra=settings.uses_templates)},
        "prompt": settings.model_dump(mode="json"),
        "decoding": decoding.model_dump(mode="json"),
        # metrics.primary chooses the verdict, not a score: naming one later keeps the finished stages.
        "metrics": plan.metrics.model_dump(mode="json", exclude={"primary"}),
        "scoring_version": SCORING_VERSION,
        "versions": library_versions(),
    }

    def bar(total: int, done: list[PredictionRow]) -> Callable[[int], None]:
        # A stage found finished shows what it took when it ran, not this session's near-zero time.
        recorded = eval_seconds(done) if len(done) >= total else None
        return progress(f"eval {name}", total, len(done), recorded)  # type: ignore[misc]

    backend = get_backend(decoding.backend, loaded, decoding)
    outcome = evaluate_in_folder(
        backend, records, plan.prompt, decoding, ScoreSettings.of(plan.metrics), out / name, stage_config, force,
        bar if progress else None,
    )
    release_engines()  # the next stage trains, or serves the adapter from an engine of its own
    if current_shard().main:
        write_results(outcome, model)
    return outcome


def _train_fingerprints(plan: TrainPlan, model: dict[str, Any], splits: DataSplits) -> tuple[str, str]:
    """What the adapter depends on, and the same without the prompt settings (for reusing an
    adapter under a changed prompt section, see --allow-prompt-change). The items are digested once."""
    payload = {
        "model": model,
        "train": records_digest(splits.train),
        "validation": records_digest(splits.validation),
        "prompt": plan.prompt.settings.model_dump(mode="json"),
        "lora": plan.lora.model_dump(mode="json"),
        "training": plan.training.model_dump(mode="json"),
        # Validation during training always runs on 'hf', so the evaluation backend (and its vLLM sizes)
        # is not part of it; the engine changes how answers are generated, never what they are.
        "decoding": plan.decoding.model_dump(mode="json", exclude={"backend", "engine", "vllm"}),
    }
    if plan.prompt.settings.uses_templates:  # a template may read columns the items' fingerprint leaves out
        payload["extra"] = records_digest([*splits.train, *splits.validation], extra=True)
    without_prompt = {key: value for key, value in payload.items() if key != "prompt"}
    # A multiple-choice mode is part of the prompt too (what a choice answer is: prompt.choice_answer).
    without_prompt["decoding"] = {k: v for k, v in payload["decoding"].items() if k != "choice_mode"}
    return _sha256_of(payload), _sha256_of(without_prompt)


def _sha256_of(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _train_stage(
    plan: TrainPlan, loaded: LoadedModel, base_model: dict[str, Any], splits: DataSplits, out: Path, force: bool,
    say: Say, on_log: Callable[[dict], None] | None, keep_prompt_change: bool = False,
    report_args: dict[str, Any] | None = None,
) -> tuple[Path, TrainResult | None]:
    """Train unless an adapter for exactly these settings and data is already there (with
    `keep_prompt_change`, one that differs in the prompt settings alone is kept too). `base_model`:
    the loaded base's `describe()`. `report_args`: where the Trainer's report_to logs
    (TrainingArguments fields), outside the fingerprint."""
    train_dir = out / "train"
    stamp = train_dir / "stage.json"
    fingerprint, without_prompt = _train_fingerprints(plan, base_model, splits)
    saved = json.loads(stamp.read_text()) if stamp.exists() and not force else {}
    if saved.get("fingerprint") == fingerprint:
        say(Message("train: adapter for these settings exists, skipping (use ", Hint("force"), " to retrain)"))
        return train_dir / "adapter", None
    if keep_prompt_change and saved.get("fingerprint_without_prompt") == without_prompt:
        say(alarm("train: keeping the adapter trained with other prompt settings (", Hint("allow_prompt_change"), ")"))
        return train_dir / "adapter", None
    resume = not force and (train_dir / "checkpoints").exists() and _same_pending(train_dir, fingerprint)
    shard = current_shard()
    if shard.main:
        if not resume and train_dir.exists():
            shutil.rmtree(train_dir)  # outputs of other settings: never resume or mix them
        write_json(train_dir / "pending.json", {"fingerprint": fingerprint})
    barrier(shard)
    result = train_adapter(
        loaded, splits.train, splits.validation, train_dir, plan.prompt, plan.lora, plan.training,
        plan.decoding, ScoreSettings.of(plan.metrics), resume=resume, on_log=on_log, report_args=report_args,
    )
    if shard.main:
        write_json(stamp, {
            "fingerprint": fingerprint, "fingerprint_without_prompt": without_prompt,
            "steps": result.steps, "train_seconds": result.train_seconds,
            "training": training_figures(result),
        })
        (train_dir / "pending.json").unlink(missing_ok=True)
    return result.adapter_dir, result


def _same_pending(train_dir: Path, fingerprint: str) -> bool:
    """Checkpoints may be resumed only if they were made for the same settings."""
    pending = train_dir / "pending.json"
    return pending.exists() and json.loads(pending.read_text()).get("fingerprint") == fingerprint


def _guards(
    prompt: ResolvedPrompt, loaded: LoadedModel, test: list[Record], adapter_dir: Path, base: EvalOutcome,
    tuned: EvalOutcome, prompt_change: PromptDifference | None,
) -> list[Finding]:
    meta = json.loads((adapter_dir / "lorabench.json").read_text())
    trained_with = PromptSettings.model_validate(meta["prompt"])
    train_prompt = fit_to_model(trained_with, loaded.model, prompt.max_new_tokens)
    return [
        format_mismatch(test, loaded.tokenizer, train_prompt, prompt.fitted, allowed=prompt_change is not None),
        adapter_applied(base.rows, tuned.rows, adapter_dir),
        *generation_guards(base.rows, tuned.rows, prompt.max_new_tokens),
    ]


def eval_seconds(rows: list[PredictionRow]) -> float:
    """Generation time of an evaluation from its rows (each holds its share of its batch's time)."""
    return round(sum(row_cost(r).latency for r in rows), 2)


def _stage_train_seconds(train_dir: Path) -> float | None:
    stamp = train_dir / "stage.json"
    return json.loads(stamp.read_text())["train_seconds"] if stamp.exists() else None


def training_figures(result: TrainResult) -> dict[str, Any]:
    """summary.json's `training`: the whole run's figures, also after a resume."""
    return {
        "steps": result.steps, "epochs": result.epochs, "train_loss": result.train_loss,
        "train_seconds": result.train_seconds, "tokens_per_second": result.tokens_per_second,
        "best_val_metric": result.best_val_metric, "stopped_early": result.stopped_early,
    }


def pass_precisions(base: LoadedModel, adapter_dir: Path, tuned: LoadedModel) -> dict[str, Any]:
    """summary.json's `precision`: what each pass computed in; the training's from its adapter's
    lorabench.json (None for an adapter made before it was recorded)."""
    meta = json.loads((adapter_dir / "lorabench.json").read_text(encoding="utf-8"))
    return {
        "base_eval": str(base.dtype).removeprefix("torch."),
        "training": meta.get("precision"),
        "tuned_eval": str(tuned.dtype).removeprefix("torch."),
    }


def _stage_training(train_dir: Path) -> dict[str, Any] | None:
    """The figures of a training found finished on disk (None for a stamp older than them)."""
    stamp = train_dir / "stage.json"
    return json.loads(stamp.read_text()).get("training") if stamp.exists() else None


def test_data(config: RunConfig, test: list[Record]) -> dict[str, str]:
    """What the test items came from (the data file's name, or a Hugging Face dataset's id) and the
    fingerprint of exactly those items: the model card's model-index names the dataset by them."""
    spec = config.data.test or config.data.source
    assert spec is not None
    name = Path(spec.path).name if spec.path is not None else "/".join(filter(None, (spec.hf, spec.hf_config)))
    return {"name": name, "sha256": records_digest(test)}


def summary_csv(comparisons: list[MetricComparison], base: EvalOutcome, tuned: EvalOutcome) -> str:
    columns = ["metric", "n", "base", "base_low", "base_high", "tuned", "tuned_low", "tuned_high",
               "difference", "diff_low", "diff_high", "p_value", "test", "verdict", "improved", "regressed", "min_detectable"]
    rows = []
    for c in comparisons:
        b, t = base.metrics.metrics[c.metric], tuned.metrics.metrics[c.metric]
        rows.append({
            "metric": c.metric, "n": c.n, "base": round(b.value, 6), "base_low": round(b.low, 6), "base_high": round(b.high, 6),
            "tuned": round(t.value, 6), "tuned_low": round(t.low, 6), "tuned_high": round(t.high, 6),
            "difference": round(c.difference, 6), "diff_low": c.ci_low, "diff_high": c.ci_high, "p_value": c.p_value,
            "test": c.test, "verdict": c.verdict, "improved": c.improved, "regressed": c.regressed,
            "min_detectable": None if c.min_detectable is None else round(c.min_detectable, 6),
        })
    return csv_text(rows, columns)


def _prompt_change(
    out: Path, prompt: ResolvedPrompt, loaded: LoadedModel, test: list[Record], force: bool, allow: bool
) -> PromptDifference | None:
    """A finished training in the run folder whose prompts differ from this config's: refused,
    unless `allow` (then returned, and the run evaluates that adapter under the new prompts)."""
    train_dir = out / "train"
    if force or not (train_dir / "stage.json").exists():
        return None
    difference = adapter_prompt_difference(
        train_dir / "adapter", test, loaded.tokenizer, loaded.model, prompt.settings, prompt.max_new_tokens
    )
    if difference is not None and not allow:
        raise prompt_change_refusal(train_dir / "adapter", difference, Message(", or ", Hint("force"), " to train again"))
    return difference


def run_pipeline(
    config: RunConfig,
    force: bool = False,
    say: Say = log,
    progress: ProgressFactory | None = None,
    on_train_log: Callable[[dict], None] | None = None,
    allow_prompt_change: bool = False,
    study: Path | None = None,
) -> PipelineResult:
    """The whole run (see the module docstring). `allow_prompt_change`: when this folder holds an
    adapter trained with other prompt settings, keep it and redo the evaluations under the new
    ones, marked as a failed format guard, instead of refusing. The run folder is held for the
    whole run: a second process on it is refused before it writes anything. With tracking
    backends, the run's tracker runs open at its start and get its results at its end (`study`:
    the study folder whose cell this run is, whose tracker runs are their parents)."""
    ensure_run_folder(Path(config.out), "out")
    main = current_shard().main
    tracking = run_tracking(Path(config.out), config.tracking, study, main)  # a missing client library, before any work
    with hold_folder(Path(config.out), "out", enabled=main), trainer_sessions_closed(tracking):
        result = _run_held(config, tracking, force, say, progress, on_train_log, allow_prompt_change)
        finish_tracking(tracking, say)
    return result


def _run_held(
    config: RunConfig,
    tracking: RunTracking,
    force: bool,
    say: Say,
    progress: ProgressFactory | None,
    on_train_log: Callable[[dict], None] | None,
    allow_prompt_change: bool,
) -> PipelineResult:
    out = Path(config.out)
    timings: dict[str, float] = {}
    # Under accelerate launch / torchrun every process runs this: training is data-parallel, each
    # evaluation stage is sharded, and rank 0 alone writes the run folder's files and speaks.
    shard = current_shard()
    if not shard.main:
        say, on_train_log = (lambda _: None), None

    # Everything that can refuse the config runs before the first file is written.
    start = time.perf_counter()
    check_can_serve(config.decoding, config.task, with_adapter=True)  # the tuned stage serves the adapter
    splits = split_data(config, say)
    retention_plan = plan_retention(config.retention, config.model) if config.retention.tasks else None
    if config.judge is not None:
        check_judge(config.judge, ["base", "tuned"], config.model.cache_dir)
    loaded = load_model(config.model)
    check_target_modules(loaded.model, config.lora.target_modules)
    timings["load_seconds"] = round(time.perf_counter() - start, 2)
    base_model = loaded.describe()
    say(f"model: {base_model['name']} on {loaded.device} ({str(loaded.dtype).removeprefix('torch.')})")
    run = resolve_run(config, splits, loaded.model)  # each stage below gets its plan from here
    prompt_change = _prompt_change(out, run.prompt, loaded, splits.test, force, allow_prompt_change)
    if shard.main:
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / "config.yaml", config.to_yaml())
        save_splits(splits, out)
        begin_tracking(tracking, say)
    barrier(shard)
    if prompt_change is not None:
        say(alarm("evaluating the adapter under changed prompt settings (", Hint("allow_prompt_change"), "): ",
                  prompt_change.describe()))
    redo_evals = force or prompt_change is not None  # the saved evaluations used the old prompts

    start = time.perf_counter()
    base = eval_stage("base", loaded, splits.test, run.evaluation, out, redo_evals, progress)
    timings["base_eval_seconds"] = round(time.perf_counter() - start, 2)

    start = time.perf_counter()
    with trainer_reports_here(tracking, config.training.report_to, say) as report_args:
        adapter_dir, train_result = _train_stage(
            run.training, loaded, base_model, splits, out, force, say, on_train_log, keep_prompt_change=prompt_change is not None,
            report_args=report_args,
        )
    if train_result is not None:
        prompt_change = None  # trained again (other settings changed too), under the new prompts
    if shard.main and train_result is not None:
        write_model_card(adapter_dir)  # until the tuned evaluation adds its results below
    barrier(shard)  # rank 0 saves the adapter that every process loads next
    timings["train_seconds"] = round(time.perf_counter() - start, 2)

    # Evaluate what was saved, not the in-memory model: a loading error must show up here.
    tuned_model = load_model(config.model, adapter=str(adapter_dir))
    start = time.perf_counter()
    tuned = eval_stage("tuned", tuned_model, splits.test, run.evaluation, out, redo_evals, progress)
    timings["tuned_eval_seconds"] = round(time.perf_counter() - start, 2)

    if not shard.main:
        return PipelineResult(out, base, tuned, [], [], train_result, None, out / "report.html")
    retention = None
    if retention_plan is not None:
        start = time.perf_counter()
        retention = run_retention(
            retention_plan, loaded, adapter_dir, out, force, say, config.metrics.alpha, config.metrics.bootstrap_resamples
        )
        timings["retention_seconds"] = round(time.perf_counter() - start, 2)
    comparisons = compare_rows(
        config.task, base.rows, tuned.rows, alpha=config.metrics.alpha, resamples=config.metrics.bootstrap_resamples,
        correction=config.metrics.correction,
    )
    metrics = config.metrics
    short = short_subset(
        config.task, base.rows, tuned.rows, metrics.short_thresh, metrics.alpha, metrics.bootstrap_resamples, metrics.correction
    )
    findings = _guards(run.prompt, loaded, splits.test, adapter_dir, base, tuned, prompt_change)
    judged = None
    if config.judge is not None:
        start = time.perf_counter()
        judged = judge_stage(
            config.judge, run.prompt.settings, splits.test, base.rows, tuned.rows, out, config.model.cache_dir,
            metrics.alpha, say,
        )
        timings["judge_seconds"] = round(time.perf_counter() - start, 2)
    headline = choose_headline(config, comparisons, judged)
    if headline.note is not None:
        say(alarm(headline.note))
    comparisons = headline.comparisons
    written = {
        "lorabench": __version__,
        "task": config.task.value,
        "model": base_model,
        "sizes": {"train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test)},
        "test_data": test_data(config, splits.test),
        "validation": {"items": len(splits.validation), "from": splits.validation_from, "warning": splits.validation_warning},
        "base": base.metrics.to_dict(),
        "tuned": tuned.metrics.to_dict(),
        "comparison": [c.to_dict() for c in comparisons],
        "verdict": headline.verdict(metrics.alpha, metrics.correction),
        "short_comparison": short.to_dict() if short is not None else None,
        "guards": [f.to_dict() for f in findings],
        "leakage": splits.leakage,
        "timings": timings,
        # What each stage cost when it ran, in whichever session: `timings` shows only this session's
        # wall time, which is near zero for a stage found finished (or copied) on disk.
        "work_seconds": {
            "base_eval": eval_seconds(base.rows),
            "train": _stage_train_seconds(out / "train"),
            "tuned_eval": eval_seconds(tuned.rows),
        },
        "training": _stage_training(out / "train") if train_result is None else training_figures(train_result),
        "precision": pass_precisions(loaded, adapter_dir, tuned_model),
    }
    if prompt_change is not None:
        written["prompt_change"] = {**prompt_change.to_dict(), "allowed_by": "--allow-prompt-change"}
    if retention is not None:
        written["retention"] = retention.to_dict()
    if judged is not None:
        written["judge"] = {**judged.to_dict(), "comparison": [c.to_dict() for c in headline.judged]}
    summary = RunSummary.model_validate(written)
    write_json(out / "summary.json", summary.to_json_dict())
    write_atomic(out / "summary.csv", summary_csv(comparisons, base, tuned))
    write_model_card(adapter_dir, out)
    report = write_report(out)
    return PipelineResult(
        out, base, tuned, comparisons, findings, train_result, summary, report.html, short, retention, judged, headline
    )
