"""`lorabench run`: leakage check -> base eval -> train -> tuned eval -> paired comparison, and
the retention check (lm-eval tasks before and after) when the config lists tasks.

Each stage leaves its outputs in the run folder and is skipped on a rerun when they exist for
the same settings, so a crash or a closed laptop costs only the unfinished stage. The data is
split and checked first (pipeline/splits.py), then the run is resolved once (pipeline/resolve.py)
and each stage gets its plan from there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lorabench.comparison.guards import Finding, run_guards
from lorabench.comparison.paired import Headline, MetricComparison, ShortSubset, choose_headline, compare_rows, short_subset
from lorabench.config.run import RunConfig
from lorabench.core.messages import Hint
from lorabench.core.notices import Say, alarm, log
from lorabench.core.version import __version__
from lorabench.evaluation.results import EvalOutcome
from lorabench.evaluation.sharding import barrier, current_shard
from lorabench.inference import check_can_serve
from lorabench.judging.answers import check_judge
from lorabench.models.load import load_model
from lorabench.pipeline.eval_stage import ProgressFactory, eval_seconds, eval_stage
from lorabench.pipeline.judge_stage import judge_stage
from lorabench.pipeline.resolve import resolve_run
from lorabench.pipeline.retention import RetentionResult, plan_retention, run_retention
from lorabench.pipeline.splits import save_splits, split_data
from lorabench.pipeline.summary import pass_precisions, test_data, write_summary
from lorabench.pipeline.train_stage import (
    prompt_change_since_training,
    stage_train_seconds,
    stage_training,
    train_stage,
)
from lorabench.report.model_card import write_model_card
from lorabench.report.write import write_report
from lorabench.results import RunSummary
from lorabench.results.judged import JudgeResult
from lorabench.runs.folder import ensure_run_folder, write_atomic
from lorabench.runs.lock import hold_folder
from lorabench.tracking.send import RunTracking, begin_tracking, finish_tracking, run_tracking
from lorabench.tracking.trainer import trainer_reports_here, trainer_sessions_closed
from lorabench.training.lora import check_target_modules
from lorabench.training.train import TrainResult


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
    judge_setup = check_judge(config.judge, ["base", "tuned"], config.model.cache_dir) if config.judge is not None else None
    loaded = load_model(config.model)
    check_target_modules(loaded.model, config.lora.target_modules)
    timings["load_seconds"] = round(time.perf_counter() - start, 2)
    base_model = loaded.describe()
    say(f"model: {base_model['name']} on {loaded.device} ({str(loaded.dtype).removeprefix('torch.')})")
    run = resolve_run(config, splits, loaded.model)  # each stage below gets its plan from here
    prompt_change = prompt_change_since_training(out, run.prompt, loaded, splits.test, force, allow_prompt_change)
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
    base = eval_stage(
        "base", loaded, splits.test, splits.digests.prompted_test, run.evaluation, out, redo_evals, progress
    )
    timings["base_eval_seconds"] = round(time.perf_counter() - start, 2)

    start = time.perf_counter()
    with trainer_reports_here(tracking, config.training.report_to, say) as report_args:
        adapter_dir, train_result = train_stage(
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
    tuned_model = load_model(config.model, adapter=str(adapter_dir), source=loaded.source)
    start = time.perf_counter()
    tuned = eval_stage(
        "tuned", tuned_model, splits.test, splits.digests.prompted_test, run.evaluation, out, redo_evals, progress
    )
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
        run.task, base.rows, tuned.rows, alpha=config.metrics.alpha, resamples=config.metrics.bootstrap_resamples,
        correction=config.metrics.correction,
    )
    metrics = config.metrics
    short = short_subset(
        run.task, base.rows, tuned.rows, metrics.short_thresh, metrics.alpha, metrics.bootstrap_resamples, metrics.correction
    )
    findings = run_guards(prompt_change, len(splits.test), adapter_dir, base.rows, tuned.rows, run.prompt.max_new_tokens)
    judged = None
    if judge_setup is not None:
        start = time.perf_counter()
        judged = judge_stage(
            judge_setup, run.prompt.settings, splits.test, base.rows, tuned.rows, out, metrics.alpha, say,
        )
        timings["judge_seconds"] = round(time.perf_counter() - start, 2)
    headline = choose_headline(run.task, config.metrics, comparisons, judged)
    if headline.note is not None:
        say(alarm(headline.note))
    comparisons = headline.comparisons
    written = {
        "lorabench": __version__,
        "task": config.task.value,
        "model": base_model,
        "sizes": {"train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test)},
        "test_data": test_data(config, splits.digests.test),
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
            "train": stage_train_seconds(out / "train"),
            "tuned_eval": eval_seconds(tuned.rows),
        },
        "training": stage_training(out / "train") if train_result is None else train_result.figures().model_dump(),
        "precision": pass_precisions(loaded, adapter_dir, tuned_model),
    }
    if prompt_change is not None:
        written["prompt_change"] = {**prompt_change.to_dict(), "allowed_by": "--allow-prompt-change"}
    if retention is not None:
        written["retention"] = retention.to_dict()
    if judged is not None:
        written["judge"] = {**judged.to_dict(), "comparison": [c.to_dict() for c in headline.judged]}
    summary = RunSummary.model_validate(written)
    write_summary(out, summary, comparisons, base, tuned)
    write_model_card(adapter_dir, out)
    report = write_report(out)
    return PipelineResult(
        out, base, tuned, comparisons, findings, train_result, summary, report.html, short, retention, judged, headline
    )
