"""The functions `import lorabench` gives: run, evaluate, train, compare, score, study, judge.

Each takes settings as pydantic objects, plain dicts or a YAML path, does what the command of the
same name does, and returns a typed result (lorabench.results) instead of printing. Progress goes
to the callbacks given (else nowhere) and messages to `say` (else the `lorabench` logger). Errors a
user can fix raise LorabenchError naming the config key or keyword argument to change.

Every command of the `lorabench` CLI calls one function here and renders its result: besides the
six above, merge, synth, leakage, report, dry_run, preview_prompts, study_plan and compare_lm_eval.

Importing this module is cheap: torch and transformers load when a function first needs a model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from lorabench.config.run import RunConfig, load_config, load_prompt_settings, parse_config, parse_settings
from lorabench.data.records import TaskKind
from lorabench.data.spec import DataSpec
from lorabench.core.errors import LorabenchError, invalid_settings
from lorabench.core.messages import Hint, Message
from lorabench.config.decoding import DecodingSettings
from lorabench.config.judge import JudgeSettings, judge_settings
from lorabench.core.notices import Say, log
from lorabench.config.prompt import PromptSettings
from lorabench.results import (
    Comparison,
    EvalResult,
    FewShotShots,
    GuardResult,
    LeakageResult,
    LmEvalComparison,
    MergeResult,
    MetricScores,
    MetricVerdict,
    Preview,
    ReportResult,
    RunResult,
    ScoreResult,
    StudyResult,
    StudyRun,
    TrackOutcome,
    TrainResult,
)
from lorabench.config.settings import ModelSpec
from lorabench.metrics.settings import ScoringSettings

if TYPE_CHECKING:
    from lorabench.results.judged import JudgeResult
    from lorabench.studies.grid import Study

# (stage name, items, items already done, recorded seconds of a stage found finished) -> advance(k)
ProgressFactory = Callable[[str, int, int, "float | None"], Callable[[int], None]]
TrainLog = Callable[[dict[str, Any]], None]
ConfigLike = RunConfig | Mapping[str, Any] | str | Path

M = TypeVar("M", bound=BaseModel)


def run_config(config: ConfigLike, overrides: list[str] | None = None) -> RunConfig:
    """A RunConfig from itself, a dict (as a YAML file would hold it) or a YAML file's path;
    `overrides` (`training.lr=1e-3`, for a YAML file) as the command's --set gives them."""
    if isinstance(config, RunConfig):
        return config
    if isinstance(config, (str, Path)):
        return load_config(Path(config), overrides or [])
    if isinstance(config, Mapping):
        if "sweep" in config:
            raise LorabenchError("config: has a 'sweep' section: run it with lorabench.study(config)")
        return parse_config(dict(config))
    raise LorabenchError(f"config: expected a RunConfig, a dict or a YAML path, got {type(config).__name__}")


def _settings(model: type[M], value: M | Mapping[str, Any] | None, key: str) -> M:
    """Settings given as the object or as a dict; a mistake names `key.field`."""
    if isinstance(value, model):
        return value
    if value is not None and not isinstance(value, Mapping):
        raise LorabenchError(f"{key}: expected {model.__name__} or a dict of its settings, got {type(value).__name__}")
    try:
        return model.model_validate(dict(value or {}))
    except ValidationError as error:
        raise invalid_settings(error, key) from None


def run(
    config: ConfigLike,
    *,
    force: bool = False,
    allow_prompt_change: bool = False,
    say: Say = log,
    progress: ProgressFactory | None = None,
    on_train_log: TrainLog | None = None,
) -> RunResult | None:
    """Leakage check, base evaluation, LoRA training, tuned evaluation and the paired comparison,
    as `lorabench run`. Rerunning the same config reuses every finished stage (force=True redoes
    them). `allow_prompt_change`: evaluate the adapter this folder trained under other prompt
    settings under the new ones (flagged) instead of refusing. Under a multi-process launch every
    process calls it; rank 0 writes the folder and gets the result, the other processes None."""
    loaded = run_config(config)
    from lorabench.pipeline.run import run_pipeline
    from lorabench.report.verdicts import multiplicity_sentence, retention_verdicts, verdict_sentence

    result = run_pipeline(
        loaded, force=force, say=say, progress=progress, on_train_log=on_train_log, allow_prompt_change=allow_prompt_change,
    )
    if result.summary is None:  # a non-main process of a multi-process launch: rank 0 wrote the folder
        return None
    return RunResult(
        out=result.out, report=result.report, summary=result.summary,
        # The run makes the generation guards only where answers were generated (`generation_guards`):
        # its findings all apply, unlike a summary read back from before that rule.
        applicable_guards=[GuardResult.model_validate(f.to_dict()) for f in result.findings],
        sentences=[verdict_sentence(c) for c in result.comparisons],
        # Every metric tested counts, the judge's too: summary.json's verdict counted them.
        multiplicity=multiplicity_sentence(result.summary["verdict"]),
        retention=None if result.retention is None else retention_verdicts(result.comparisons, result.retention.comparison),
    )


def demo_config(out: str | Path = "demo_runs") -> RunConfig:
    """The demo's run config (`lorabench demo`): SmolLM2-135M-Instruct, LoRA on synthetic extractive
    QA written into `out`; run it with `run`. `model.name` says which model."""
    from lorabench.config.demo import demo_config as config_of
    from lorabench.runs.folder import ensure_run_folder

    folder = Path(out)
    ensure_run_folder(folder, "out")
    folder.mkdir(parents=True, exist_ok=True)
    return config_of(folder)


def dry_run(config: ConfigLike, *, say: Say = log) -> list[str]:
    """What `run` would do, checked without loading weights (config, data, splits, leakage, prompts,
    LoRA targets), as `lorabench run --dry-run`: the plan's lines. Writes nothing."""
    loaded = run_config(config)  # checked before torch is imported
    from lorabench.pipeline.dry_run import plan_lines, plan_run

    return plan_lines(plan_run(loaded, say))


def preview_prompts(
    config: ConfigLike, split: str = "train", n: int = 3, *, overrides: list[str] | None = None, say: Say = log
) -> Preview:
    """Exactly what the model sees for the first `n` items of `split` (train or test), as `lorabench
    prompts`: the Preview (`items` with the prompt, the learned tokens, how evaluation asks; the
    few-shot examples' ids). Loads the tokenizer only (after the config is checked)."""
    if split not in ("train", "test"):
        raise LorabenchError.about("split", f"{split!r} is not a split; use train or test")
    loaded = run_config(config, overrides)
    from lorabench.pipeline.preview import preview_prompts as preview
    from lorabench.prompts.few_shot import shot_ids

    rendered = preview(loaded, split, n, say)  # type: ignore[arg-type]
    settings, few = rendered.settings, rendered.settings.few_shot
    return Preview(
        split=rendered.split, total=rendered.total, chat=rendered.chat, max_prompt_tokens=settings.max_prompt_tokens,
        few_shot=None if few is None else FewShotShots(k=few.k, seed=few.seed, ids=shot_ids(few)),
        settings=settings.model_dump(mode="json"), items=rendered.items,
    )


def train(
    config: ConfigLike,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    merge: bool = False,
    say: Say = log,
    on_log: TrainLog | None = None,
) -> TrainResult:
    """Train a LoRA adapter only (no evaluations), as `lorabench train`: into `out` (default
    <config out>/train), resuming its last checkpoint with resume=True; merge=True also writes the
    base model with the adapter merged in."""
    config = run_config(config)
    from lorabench.evaluation.sharding import current_shard
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.models.load import load_model
    from lorabench.pipeline.run import save_splits, split_data
    from lorabench.report.model_card import write_model_card
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.runs.lock import hold_folder
    from lorabench.training.lora import check_target_modules
    from lorabench.training.train import train_adapter

    folder = Path(out) if out is not None else Path(config.out) / "train"
    ensure_run_folder(Path(config.out), "out", keyed=False)  # the config's key, not this function's `out`
    ensure_run_folder(folder, "out")
    main = current_shard().main
    with hold_folder(Path(config.out), "out", enabled=main), hold_folder(folder, "out", enabled=main and out is not None):
        splits = split_data(config, say)
        loaded = load_model(config.model)
        check_target_modules(loaded.model, config.lora.target_modules)
        save_splits(splits, Path(config.out))
        result = train_adapter(
            loaded, splits.train, splits.validation, folder, splits.prompt, config.lora, config.training,
            config.decoding, ScoreSettings.of(config.metrics), resume=resume, merge=merge, on_log=on_log,
        )
        if main:
            write_model_card(result.adapter_dir)  # without results: `run` adds them after its tuned evaluation
    return result


def prompt_settings(path: str | Path) -> PromptSettings:
    """Prompt settings from a YAML file: a run config's `prompt:` section, an adapter's
    lorabench.json, or the settings alone (what `evaluate(prompt=path)` reads)."""
    return load_prompt_settings(Path(path))


def current_shard() -> Any:
    """This process's place in a multi-process launch (`.rank`, `.world`, `.main`, `.distributed`):
    under torchrun or accelerate only rank 0 (`.main`) reports."""
    from lorabench.evaluation.sharding import current_shard as shard

    return shard()


def refuse_weight_sharding(command: str) -> None:
    """LorabenchError when launched to shard one model's weights over processes, which `command` does not do."""
    from lorabench.evaluation.sharding import refuse_weight_sharding as refuse

    refuse(command)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path(text).name.removesuffix(".gguf"))[:60]


def default_eval_folder(model: str, data: str, task: TaskKind | str) -> Path:
    """runs/eval-<model>-<data>-<task>: where an evaluation goes when no folder is given."""
    return Path("runs") / f"eval-{_slug(model)}-{_slug(data)}-{TaskKind(task).value}"


def eval_config(
    model: str | ModelSpec | Mapping[str, Any],
    data: str | Path | DataSpec | Mapping[str, Any],
    task: TaskKind | str | None = None,
    *,
    adapter: str | Path | None = None,
    limit: int | None = None,
    prompt: PromptSettings | Mapping[str, Any] | str | Path | None = None,
    decoding: DecodingSettings | Mapping[str, Any] | None = None,
    scoring: ScoringSettings | Mapping[str, Any] | None = None,
) -> Any:
    """The EvalConfig `evaluate` runs (model and data as a name / path, a dict or the settings object)."""
    from lorabench.evaluation.runner import EvalConfig

    spec = ModelSpec(name=model) if isinstance(model, str) else _settings(ModelSpec, model, "model")
    if isinstance(data, DataSpec):
        source = data
    else:
        raw = {"path": str(data)} if isinstance(data, (str, Path)) else dict(data)
        if task is not None:
            raw.setdefault("task", task)
        if "task" not in raw:
            raise LorabenchError.about("task", "give the task kind (extractive, open, choice, math, short)")
        source = _settings(DataSpec, raw, "data")
    if isinstance(prompt, (str, Path)):
        prompt_settings = load_prompt_settings(Path(prompt))
    else:
        prompt_settings = _settings(PromptSettings, prompt, "prompt")
    scores = _settings(ScoringSettings, scoring, "scoring")
    try:
        return EvalConfig(
            model=spec, adapter=None if adapter is None else str(adapter), data=source, limit=limit,
            prompt=prompt_settings, decoding=_settings(DecodingSettings, decoding, "decoding"), **scores.model_dump(),
        )
    except ValidationError as error:
        raise invalid_settings(error) from None


def evaluate(
    model: str | ModelSpec | Mapping[str, Any],
    data: str | Path | DataSpec | Mapping[str, Any],
    task: TaskKind | str | None = None,
    *,
    adapter: str | Path | None = None,
    out: str | Path | None = None,
    limit: int | None = None,
    prompt: PromptSettings | Mapping[str, Any] | str | Path | None = None,
    decoding: DecodingSettings | Mapping[str, Any] | None = None,
    scoring: ScoringSettings | Mapping[str, Any] | None = None,
    few_shot_from: str | Path | None = None,
    allow_prompt_change: bool = False,
    force: bool = False,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
    track: list[str] | None = None,
    say: Say = log,
) -> EvalResult:
    """Evaluate a model (with an adapter if given) on a data set, as `lorabench eval`: into the run
    folder `out` (default runs/eval-<model>-<data>-<task>), resuming an interrupted evaluation.
    `prompt` is PromptSettings, a dict, or a YAML file (a run config's `prompt:` section or an
    adapter's lorabench.json); `progress(total, already_done)` returns an `advance(k)`. `track`: trackers
    to send the finished evaluation to (mlflow, wandb, trackio, tensorboard; where: each tool's environment)."""
    config = eval_config(model, data, task, adapter=adapter, limit=limit, prompt=prompt, decoding=decoding, scoring=scoring)
    from lorabench.config.tracking import TrackingSettings
    from lorabench.evaluation.runner import run_eval
    from lorabench.evaluation.sharding import current_shard
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.tracking.base import check_backends
    from lorabench.tracking.send import send_run

    folder = Path(out) if out is not None else default_eval_folder(config.model.name, config.data.path, config.data.task)
    ensure_run_folder(folder, "out")
    tracking = _settings(TrackingSettings, {"backends": track or []}, "track")
    check_backends(list(tracking.backends))
    outcome = run_eval(
        config, folder, force=force, progress_factory=progress, allow_prompt_change=allow_prompt_change,
        few_shot_from=None if few_shot_from is None else Path(few_shot_from),
    )
    if tracking.backends and current_shard().main:
        send_run(folder, tracking, say=say)
    return EvalResult(
        out=folder, model=config.model.name, adapter=config.adapter, data=str(config.data.path),
        task=config.data.task.value, metrics=MetricScores.model_validate(outcome.metrics.to_dict()),
        resumed=outcome.resumed, hit_max_new_tokens=sum(r["hit_max_new_tokens"] for r in outcome.rows),
        prompt_shortened=sum(r["prompt_shortened"] for r in outcome.rows),
        prompt_change=None if outcome.prompt_change is None else outcome.prompt_change.to_dict(),
        prompt_change_text=None if outcome.prompt_change is None else outcome.prompt_change.describe(),
    )


def _folder_of(run: str | Path | EvalResult) -> Path:
    return run.out if isinstance(run, EvalResult) else Path(run)


def compare(
    a: str | Path | EvalResult,
    b: str | Path | EvalResult,
    *,
    anyway: bool = False,
    alpha: float = 0.05,
    resamples: int = 10_000,
    correction: str = "none",
    allow_precision_change: bool = False,
) -> Comparison:
    """Paired comparison of two evaluations of the same items (B - A), as `lorabench compare`:
    eval folders (`runs/x/base`, `runs/x/tuned`, an `evaluate` result). Items, prompts or decoding
    that differ are refused unless anyway=True (then the common items are compared, and the
    differences listed in `forced_despite`); runs made at different precisions (model.dtype) unless
    allow_precision_change=True (then the first warning says so). The task's primary metric is the
    verdict; correction="holm" Holm-adjusts the secondary metrics' p-values. `warnings` says when the
    two used other generation engines or library versions."""
    from lorabench.comparison.items import change_counts
    from lorabench.comparison.lm_eval_files import is_lm_eval_output
    from lorabench.comparison.paired import CORRECTIONS, run_verdict
    from lorabench.comparison.paired_runs import compare_evals, read_eval
    from lorabench.report.verdicts import multiplicity_sentence, verdict_sentence

    _check_alpha(alpha)
    path_a, path_b = _folder_of(a), _folder_of(b)
    for path in (path_a, path_b):
        if is_lm_eval_output(path):
            raise LorabenchError(f"{path} is lm-eval output: lorabench.compare reads lorabench eval folders; "
                                 "compare lm-eval runs with lorabench.api.compare_lm_eval")
    if correction not in CORRECTIONS:
        raise LorabenchError.about("correction", f"{correction!r} is not one of {', '.join(CORRECTIONS)}")
    result = compare_evals(
        read_eval(path_a), read_eval(path_b), anyway=anyway, alpha=alpha, resamples=resamples, correction=correction,
        allow_precision_change=allow_precision_change,
    )
    return Comparison(
        a=str(path_a), b=str(path_b), name_a=result.a.name, name_b=result.b.name, n=result.n,
        comparisons=[MetricVerdict.model_validate(c.to_dict()) for c in result.comparisons],
        metrics_a=MetricScores.model_validate(result.metrics_a.to_dict()),
        metrics_b=MetricScores.model_validate(result.metrics_b.to_dict()),
        items=change_counts(result.pairs), forced_despite=result.differences, warnings=result.warnings,
        sentences=[verdict_sentence(c, before="A", after="B") for c in result.comparisons],
        multiplicity=multiplicity_sentence(run_verdict(result.comparisons, alpha, correction)),
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise LorabenchError.about("alpha", f"{alpha:g} is not a significance level; give a value between 0 and 1, e.g. 0.05")


def is_lm_eval_output(path: str | Path) -> bool:
    """Whether `path` is lm-eval's output (its --output_path folder, a results_*.json or a
    samples_<task>_*.jsonl file) rather than a lorabench eval folder."""
    from lorabench.comparison.lm_eval_files import is_lm_eval_output as lm_eval_output

    return lm_eval_output(Path(path))


def compare_lm_eval(
    a: str | Path, b: str | Path, *, anyway: bool = False, alpha: float = 0.05, resamples: int = 10_000
) -> LmEvalComparison:
    """Paired comparison of two lm-eval runs (with --log_samples), per task and metric, paired by
    doc_id, as `lorabench compare` on lm-eval output: the LmEvalComparison (`comparisons` and their
    `sentences`, `items`, `forced_despite`, `notes`, `to_dict()`). Tasks or documents that differ
    are refused unless anyway=True."""
    from lorabench.comparison.lm_eval_compare import compare_lm_eval as compare_runs
    from lorabench.comparison.lm_eval_files import read_lm_eval
    from lorabench.report.verdicts import verdict_sentence

    _check_alpha(alpha)
    kinds = [is_lm_eval_output(a), is_lm_eval_output(b)]
    if not all(kinds):
        lm, other = (a, b) if kinds[0] else (b, a)
        raise LorabenchError(f"{lm} is lm-eval output but {other} is not; compare two lm-eval runs or two lorabench runs")
    result = compare_runs(read_lm_eval(Path(a)), read_lm_eval(Path(b)), anyway=anyway, alpha=alpha, resamples=resamples)
    return LmEvalComparison(
        a=str(result.a.path), b=str(result.b.path), model_a=result.a.model, model_b=result.b.model,
        results_a=None if result.a.results is None else str(result.a.results),
        results_b=None if result.b.results is None else str(result.b.results),
        items=result.items, comparisons=[MetricVerdict.model_validate(c.to_dict()) for c in result.comparisons],
        sentences=[verdict_sentence(c, before="A", after="B") for c in result.comparisons],
        forced_despite=result.differences, notes=result.notes,
    )


def score(
    predictions: str | Path,
    task: TaskKind | str,
    *,
    scoring: ScoringSettings | Mapping[str, Any] | None = None,
    skip_invalid: bool = False,
    out: str | Path | None = None,
) -> ScoreResult:
    """Score predictions made elsewhere (JSON Lines with `gold` and `prediction` per line) with every
    metric of the task and 95% intervals, as `lorabench score`; writes metrics.json and scores.jsonl
    into `out` when given (the command always gives one: its --out, by default the input's folder). skip_invalid=True skips bad rows (listed in `skipped`) instead of stopping."""
    from lorabench.evaluation.scorefile import score_file, write_metrics
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.runs.folder import ensure_run_folder

    path = Path(predictions)
    if not path.is_file():
        raise LorabenchError(f"{path}: no such file" if not path.exists() else f"{path} is a folder; give a file")
    if (task.value if isinstance(task, TaskKind) else task) not in {kind.value for kind in TaskKind}:
        raise LorabenchError.about("task", f"{task!r} is not a task kind; use one of {', '.join(t.value for t in TaskKind)}")
    if out is not None:
        ensure_run_folder(Path(out), "out")
    settings = ScoreSettings.of(_settings(ScoringSettings, scoring, "scoring"))
    result = score_file(path, TaskKind(task), settings, skip_invalid)
    metrics_path = write_metrics(result, Path(out), path) if out is not None else None
    return ScoreResult(
        task=TaskKind(task).value, metrics=MetricScores.model_validate(result.metrics.to_dict()),
        skipped=[str(error) for error in result.skipped], metrics_path=metrics_path,
    )


def load_study_config(config: str | Path | Mapping[str, Any], overrides: list[str] | None = None) -> Study:
    """A study (run settings plus `sweep:`) from a YAML path (with --set style `overrides`) or a dict."""
    from lorabench.studies.grid import Study, SweepSettings, expand, load_study

    if isinstance(config, (str, Path)):
        return load_study(Path(config), overrides or [])
    if not isinstance(config, Mapping) or "sweep" not in config:
        raise LorabenchError("config: no 'sweep' section; a single run is lorabench.run(config)")
    raw = dict(config)
    sweep = parse_settings(SweepSettings, raw.pop("sweep") or {}, "config", prefix=("sweep",))
    base = parse_config(raw)
    return Study(base, sweep, expand(base, sweep))


def _check_executor(executor: str | None) -> None:
    if executor not in (None, "local", "ray"):
        raise LorabenchError.about("executor", f"{executor!r} is not an executor; use local or ray")


def study_plan(
    config: str | Path | Mapping[str, Any] | Study, *, overrides: list[str] | None = None, executor: str | None = None
) -> list[str]:
    """What `study` would do, as lines: the runs the sweep expands to, what they share, which are finished."""
    from lorabench.studies.grid import Study
    from lorabench.studies.runner import plan_lines

    _check_executor(executor)
    refuse_weight_sharding("study")
    return plan_lines(config if isinstance(config, Study) else load_study_config(config, overrides))


def study(
    config: str | Path | Mapping[str, Any] | Study,
    *,
    overrides: list[str] | None = None,
    force: bool = False,
    keep_going: bool = False,
    say: Say = log,
    progress: ProgressFactory | None = None,
    on_train_log: TrainLog | None = None,
    executor: str | None = None,
    ray_address: str | None = None,
) -> StudyResult:
    """A grid of runs on the same test items (models x training sizes x strategies x any
    sweep.params key x seeds), then the study page, as `lorabench study`. Finished runs are kept
    unless force=True; with keep_going=True a failed run is recorded (state "failed", its error) and
    the next one starts. executor "ray" (default: sweep.executor) runs the cells as Ray tasks, on
    ray_address (default: sweep.ray_address, else a local Ray started for the study). `overrides`:
    --set style changes to a YAML config."""
    from lorabench.studies.grid import Study

    _check_executor(executor)
    refuse_weight_sharding("study")
    # The config is checked before torch is imported: a mistake is reported in a fraction of a second.
    loaded = config if isinstance(config, Study) else load_study_config(config, overrides)
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.runs.lock import hold_folder
    from lorabench.studies.report import write_study_report
    from lorabench.studies.runner import run_study
    from lorabench.tracking.base import check_backends
    from lorabench.tracking.send import send_study_run

    ensure_run_folder(loaded.out, "out")
    tracking = loaded.base.tracking
    check_backends(list(tracking.backends))
    with hold_folder(loaded.out, "out"):  # the page below too: a study refused as busy writes nothing
        try:
            statuses = run_study(
                loaded, force=force, say=say, progress=progress, on_train_log=on_train_log, keep_going=keep_going,
                executor=executor, ray_address=ray_address,
            )
        finally:
            # Also after a failure or an interruption: the page shows what is finished and says what is
            # not. A study refused before its first write (study.yaml) has no folder, and gets none.
            files = write_study_report(loaded) if (loaded.out / "study.yaml").is_file() else None
            if files is not None:
                say(f"study: {files.finished} of {files.total} runs finished; page: {files.html.resolve()}")
        if tracking.backends and files is not None and files.finished == files.total:
            send_study_run(loaded.out, tracking, say)  # its tables are final only now
        elif tracking.backends:
            say(f"tracking: the study's own run is sent once every run is finished (`lorabench track {loaded.out}`)")
    return StudyResult(
        out=loaded.out,
        runs=[StudyRun(name=s.point.name, state=s.state, seconds=s.seconds, out=Path(s.point.config.out), error=s.error)
              for s in statuses],
        page=None if files is None else files.html,
        finished=0 if files is None else files.finished,
    )


def merge(
    adapter: str | Path,
    out: str | Path,
    *,
    check_items: int = 8,
    data: str | None = None,
    model: str | None = None,
    dtype: str | None = None,
    force: bool = False,
) -> MergeResult:
    """Merge a lorabench adapter folder into its base and write the merged model to `out`, as
    `lorabench merge`; refused unless the merged model gives the same greedy answers as base +
    adapter on `check_items` items (of `data`, else synthetic ones). Returns the MergeResult
    (`out`, `base`, `checked`, `items_from`)."""
    from lorabench.training.merge import merge_adapter

    return merge_adapter(
        Path(adapter), Path(out), check_items=check_items, data=data, model=model, dtype=dtype, force=force
    )


def synth(task: TaskKind | str, n: int, seed: int = 0, out: str | Path | None = None, *, short_passages: bool = False) -> Path:
    """A deterministic data set of `n` records about a fictional world (no model already knows the
    answers), as `lorabench synth`: written to `out` (default synth_<task>_<n>_<seed>.jsonl); its path."""
    from lorabench.data.synth import write_synth
    from lorabench.runs.folder import ensure_output_file

    target = Path(out) if out is not None else Path(f"synth_{TaskKind(task).value}_{n}_{seed}.jsonl")
    ensure_output_file(target, "out")
    return write_synth(TaskKind(task), n, seed, target, short_passages=short_passages)


def leakage(train: str | Path, test: str | Path, task: TaskKind | str, *, ngram: int = 8) -> LeakageResult:
    """Overlap between two data files (same questions, contexts, near-duplicate questions; ids
    shared by different records are reported apart), as `lorabench leakage`. Returns the
    LeakageResult (`has_leakage`, each kind's count and examples, `summary` in words, `to_dict()`)."""
    from lorabench.data.leakage import check_leakage
    from lorabench.data.loaders import load_records

    a = load_records(DataSpec(path=str(train), task=TaskKind(task))).records
    b = load_records(DataSpec(path=str(test), task=TaskKind(task))).records
    report = check_leakage(a, b, ngram=ngram)
    return LeakageResult.model_validate({**report.to_dict(), "summary": report.summary()})


def report(run_dir: str | Path, *, screenshot: bool = False) -> ReportResult:
    """(Re)write report.html, report.md, plots/ and tables/ from a run folder's files, as `lorabench
    report`; screenshot=True also loads the page in headless Chromium and saves report.png
    (`problem` says what did not render cleanly, if anything)."""
    from lorabench.report.write import write_report

    files = write_report(run_dir)
    if not screenshot:
        return ReportResult(html=files.html, markdown=files.markdown)
    from lorabench.report.browser import check_page

    png = Path(run_dir) / "report.png"
    check = check_page(files.html, png)
    return ReportResult(html=files.html, markdown=files.markdown, screenshot=png, problem=None if check.ok else str(check))


def judge(
    answers: str | Path | EvalResult | list[str | Path | EvalResult],
    judge: JudgeSettings | Mapping[str, Any] | str | None = None,
    *,
    config: str | Path | None = None,
    out: str | Path | None = None,
    anyway: bool = False,
    alpha: float = 0.05,
    say: Say = log,
) -> JudgeResult:
    """Judge answers with a judge model, as `lorabench judge`: one finished eval folder or
    predictions file (gold, prediction, question per line) graded against the gold, or two (base,
    then tuned) graded and compared, paired (McNemar on judge_correct / judge_attempted; preference
    in both orders with an exact sign test). `judge`: JudgeSettings, a dict of them or a model name,
    over the `judge:` section of the YAML file `config` (a run config works). Writes judgments.jsonl,
    judge.json and the rubrics into `out` (default: `judge/` beside two inputs, `<name>-judge/`
    beside one). Two folders made with other prompts or decoding are refused unless anyway=True."""
    from lorabench.judging.answers import judge_answers
    from lorabench.judging.rubric import rubrics_for
    from lorabench.judging.sources import folder_differences, items_of, read_answers
    from lorabench.runs.folder import ensure_run_folder

    settings = judge_settings(judge, config)
    if not 0 < alpha < 1:
        raise LorabenchError.about("alpha", f"{alpha:g} is not a significance level; give a value between 0 and 1, e.g. 0.05")
    paths = [_folder_of(a) for a in (answers if isinstance(answers, list) else [answers])]
    if len(paths) not in (1, 2):
        raise LorabenchError.about("answers", f"give one or two eval folders or predictions files, not {len(paths)}")
    sides = ["base", "tuned"] if len(paths) == 2 else ["model"]
    rubrics_for(settings, sides)  # a rubric file that is missing or broken, before any answer is read
    found = folder_differences(*paths) if len(paths) == 2 else []
    if found and not anyway:
        raise LorabenchError(Message(
            "the answers are not a paired comparison: ", Message("; ").join(found),
            ". Judge evaluations made with the same prompts and decoding, or pass ", Hint("anyway"),
        ))
    target = Path(out) if out is not None else _judge_folder(paths)
    ensure_run_folder(target, "out")
    items = items_of([(side, read_answers(path)) for side, path in zip(sides, paths)])
    return judge_answers(items, sides, settings, out=target, alpha=alpha, say=say)


def _judge_folder(paths: list[Path]) -> Path:
    if len(paths) == 2:
        return paths[0].resolve().parent / "judge"
    return paths[0].with_name(f"{paths[0].stem}-judge")


def track(
    folder: str | Path,
    *,
    backends: list[str] | None = None,
    project: str | None = None,
    run_name: str | None = None,
    settings: Any = None,
    say: Say = log,
) -> list[TrackOutcome]:
    """Send a finished run, eval or study folder to experiment trackers, as `lorabench track`: into
    the tracker runs the folder already has (a run made with `tracking:` opened them), never twice.
    `settings` (TrackingSettings or a dict; default: the ones the run was made with) says where;
    `backends`, `project` and `run_name` override them. Returns one TrackOutcome per folder and backend."""
    from lorabench.config.tracking import TrackingSettings
    from lorabench.tracking.base import check_backends
    from lorabench.tracking.send import saved_settings, send_run, send_study

    from lorabench.config.tracking import BACKENDS

    path = Path(folder)
    if not path.is_dir():
        raise LorabenchError.about("folder", f"{path} is not a folder; give a finished run, eval or study folder")
    for name in backends or []:
        if name not in BACKENDS:
            raise LorabenchError.about("backend", f"{name!r} is not a tracker; choose from {', '.join(BACKENDS)}")
    chosen = _settings(TrackingSettings, settings, "tracking") if settings is not None else (
        saved_settings(path) or TrackingSettings())
    updates = {key: value for key, value in (("backends", backends), ("project", project), ("run_name", run_name)) if value}
    chosen = _settings(TrackingSettings, {**chosen.model_dump(), **updates}, "tracking")
    if not chosen.backends:
        raise LorabenchError.about("backend", "name a tracker (mlflow, wandb, trackio, tensorboard); "
                                   f"{path} was not made with a tracking: section that names one")
    check_backends(list(chosen.backends))
    if (path / "study.yaml").is_file():
        return send_study(path, chosen, say=say)
    return send_run(path, chosen, say=say)
