"""The `lorabench` command: parse arguments, call the library, print, set the exit code.

Errors caused by input (LorabenchError) print one clear line and exit with code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from lorabench.data.records import TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.metrics.settings import ScoringSettings

app = typer.Typer(
    help="Fine-tune small language models with LoRA on QA data and find out, honestly, whether it helped.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Click's own help layout: rich's option table cuts long option names at 80 columns.
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LorabenchError as error:
            # Escaped: a message may hold brackets (pip install 'lorabench[vllm]') that are not markup.
            err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


# Union members and validator names pydantic puts into an error's location; they name no option.
_LOC_NOISE = {"int", "float", "str", "bool", "function-after", "function-before"}


@contextmanager
def options_named(renames: dict[str, str] | None = None) -> Iterator[None]:
    """Report a settings object that refuses command-line values against the option that gave them.

    The option is the field's name as a flag (`batch_size` -> `--batch-size`) unless `renames`
    maps it (`name` -> `--model`).
    """
    from pydantic import ValidationError

    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        fields = [p for p in first["loc"] if isinstance(p, str) and "[" not in p and p not in _LOC_NOISE]
        field = fields[-1] if fields else ""
        option = (renames or {}).get(field, "--" + field.replace("_", "-"))
        raise LorabenchError(f"{option}: {first['msg']} (got {first['input']!r})") from None


def input_file(path: Path, option: str) -> Path:
    """A file the command reads: missing or a folder is the user's mistake, named with the option."""
    if not path.exists():
        raise LorabenchError(f"{option}: {path}: no such file")
    if path.is_dir():
        raise LorabenchError(f"{option}: {path} is a folder; give a file")
    return path


TaskOption = Annotated[TaskKind, typer.Option("--task", "-t", help="Task kind.")]
# Help and defaults of the scoring options come from their one declaration.
_SCORING = ScoringSettings.model_fields


@app.command()
@user_errors
def score(
    predictions: Annotated[Path, typer.Argument(help="JSON Lines with `gold` and `prediction` per line.")],
    task: TaskOption,
    out: Annotated[Optional[Path], typer.Option(help="Folder for metrics.json (default: beside the input).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only one JSON object, for scripts.")] = False,
    short_thresh: Annotated[int, typer.Option(help=_SCORING["short_thresh"].description)] = _SCORING["short_thresh"].default,
    rouge_threshold: Annotated[
        float, typer.Option(help=_SCORING["rouge_threshold"].description)
    ] = _SCORING["rouge_threshold"].default,
    skip_invalid: Annotated[bool, typer.Option(help="Skip bad rows (reported) instead of stopping.")] = False,
) -> None:
    """Score predictions made elsewhere: every metric of the task, with 95% intervals."""
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.report.console import metrics_table
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.evaluation.scorefile import score_file, write_metrics

    input_file(predictions, "PREDICTIONS")
    ensure_run_folder(out or predictions.parent, "--out")
    with options_named():
        settings = ScoreSettings.of(ScoringSettings(short_thresh=short_thresh, rouge_threshold=rouge_threshold))
    result = score_file(predictions, task, settings, skip_invalid)
    metrics_path = write_metrics(result, out or predictions.parent, predictions)
    if as_json:
        sys.stdout.write(json.dumps(result.metrics.to_dict()) + "\n")
        return
    console.print(metrics_table(result.metrics))
    for error in result.skipped:
        err_console.print(f"[yellow]skipped[/] {error}", highlight=False)
    if result.skipped:
        err_console.print(f"[yellow]{len(result.skipped)} invalid row(s) skipped[/]")
    console.print(f"wrote {metrics_path}")


@app.command()
@user_errors
def synth(
    task: TaskOption,
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of records.")] = 200,
    seed: Annotated[int, typer.Option(help="Same seed, same data, on every machine.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Output .jsonl (default: synth_<task>_<n>_<seed>.jsonl).")] = None,
    short_passages: Annotated[bool, typer.Option(help="Extractive: passages of about 80 words (fast on a CPU).")] = False,
) -> None:
    """Write a deterministic dataset about a fictional world, so no model already knows the answers."""
    from lorabench.data.synth import write_synth
    from lorabench.runs.folder import ensure_output_file

    target = out or Path(f"synth_{task.value}_{n}_{seed}.jsonl")
    ensure_output_file(target, "--out")
    path = write_synth(task, n, seed, target, short_passages=short_passages)
    console.print(f"wrote {n} {task.value} records to {path}")


@app.command()
@user_errors
def leakage(
    train: Annotated[Path, typer.Argument(help="The set a model learns from.")],
    test: Annotated[Path, typer.Argument(help="The set it is evaluated on.")],
    task: TaskOption,
    ngram: Annotated[int, typer.Option(min=1, help="Word n-gram size for near-duplicate questions.")] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check two data files for overlap: same questions, contexts, near-duplicate questions (ids
    shared by different records are reported apart: they are not leakage).

    Exits with code 1 when leakage is found.
    """
    from lorabench.data.leakage import check_leakage
    from lorabench.data.loaders import load_records
    from lorabench.data.spec import DataSpec

    a = load_records(DataSpec(path=str(train), task=task)).records
    b = load_records(DataSpec(path=str(test), task=task)).records
    report = check_leakage(a, b, ngram=ngram)
    console.print_json(json.dumps(report.to_dict())) if as_json else console.print(report.summary(), highlight=False)
    if report.has_leakage:
        raise typer.Exit(1)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path(text).name.removesuffix(".gguf"))[:60]


@app.command("eval")
@user_errors
def eval_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Hub id, local folder, .gguf file, or alias (smollm2-135m-instruct, gemma3-270m).")],
    data: Annotated[str, typer.Option("--data", "-d", help="Data file or folder (JSON Lines, JSON, SQuAD, CSV, Parquet, qa_*.json folder).")],
    task: TaskOption,
    adapter: Annotated[Optional[str], typer.Option(help="LoRA adapter folder to apply on the model.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Evaluate only the first N items.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder (default: runs/eval-<model>-<data>-<task>).")] = None,
    data_format: Annotated[str, typer.Option("--format", help="Data format; 'auto' detects it.")] = "auto",
    preset: Annotated[str, typer.Option(help="Row shape: auto | none | chat | prompt_completion | alpaca.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Answers generated at once (continuous batching slots).")] = 8,
    max_new_tokens: Annotated[Optional[int], typer.Option(help="Per-task default when unset.")] = None,
    prompt_file: Annotated[Optional[Path], typer.Option("--prompt", help="Prompt settings (templates, answer prefix, few_shot) from a YAML file: a run config's `prompt:` section, an adapter's lorabench.json, or the settings alone.")] = None,
    chat_template: Annotated[Optional[str], typer.Option(help="auto | on | off (default: auto, or --prompt's).")] = None,
    system: Annotated[Optional[str], typer.Option(help="System message (chat template only).")] = None,
    few_shot_from: Annotated[Optional[Path], typer.Option(help="Training records to draw prompt.few_shot's examples from (default: the adapter's own).")] = None,
    allow_prompt_change: Annotated[bool, typer.Option(help="Evaluate an adapter under prompts other than its training ones (recorded, and flagged).")] = False,
    choice_mode: Annotated[str, typer.Option(help="Multiple choice: logprob | letter | generate.")] = "logprob",
    backend: Annotated[str, typer.Option(help="hf | vllm (vllm needs pip install 'lorabench[vllm]' and a CUDA GPU).")] = "hf",
    dtype: Annotated[str, typer.Option(help="auto | float32 | bfloat16 | float16.")] = "auto",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:N | mps.")] = "auto",
    trust_remote_code: Annotated[bool, typer.Option(help="Run code shipped with the model (off unless you trust it).")] = False,
    force: Annotated[bool, typer.Option(help="Discard an existing run folder with other settings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the metrics JSON.")] = False,
) -> None:
    """Evaluate a model (optionally with an adapter) on a task; resumes an interrupted run."""
    from lorabench.config.run import load_prompt_settings
    from lorabench.data.spec import DataSpec
    from lorabench.evaluation.runner import EvalConfig, run_eval
    from lorabench.config.decoding import DecodingSettings
    from lorabench.models.load import ModelSpec
    from lorabench.prompts.build import PromptSettings
    from lorabench.report.console import metrics_table
    from lorabench.live import progress_bars
    from lorabench.runs.folder import ensure_run_folder

    base_prompt = load_prompt_settings(input_file(prompt_file, "--prompt")) if prompt_file else PromptSettings()
    given = {"chat_template": chat_template, "system": system}
    if few_shot_from is not None:
        input_file(few_shot_from, "--few-shot-from")
    with options_named({"name": "--model", "path": "--data"}):
        config = EvalConfig(
            model=ModelSpec(name=model, dtype=dtype, device=device, trust_remote_code=trust_remote_code),
            adapter=adapter,
            data=DataSpec(path=data, task=task, format=data_format, preset=preset),
            limit=limit,
            prompt=PromptSettings(**{**base_prompt.model_dump(), **{k: v for k, v in given.items() if v is not None}}),
            decoding=DecodingSettings(
                max_new_tokens=max_new_tokens, batch_size=batch_size, choice_mode=choice_mode, backend=backend
            ),
        )
    out = out or Path("runs") / f"eval-{_slug(model)}-{_slug(data)}-{task.value}"
    ensure_run_folder(out, "--out")
    from lorabench.evaluation.sharding import current_shard

    shard = current_shard()
    bars, factory = progress_bars(err_console)
    bars.disable = as_json or shard.distributed  # several processes would draw over each other
    with bars:
        outcome = run_eval(
            config, out, force=force, progress_factory=lambda total, done: factory(f"eval {task.value}", total, done),
            allow_prompt_change=allow_prompt_change, few_shot_from=few_shot_from,
        )
    if not shard.main:
        return  # rank 0 merged the shards and reports for all of them
    if outcome.prompt_change is not None:
        err_console.print(f"[bold red]evaluated under prompts the adapter was not trained with "
                          f"(--allow-prompt-change): {escape(outcome.prompt_change.describe())}[/]", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(outcome.metrics.to_dict()) + "\n")
        return
    applied = f" + adapter {adapter}" if adapter else ""
    console.print(metrics_table(outcome.metrics, title=f"{model}{applied} on {data} ({task.value}, %, 95% CI)"))
    cut = sum(r["hit_max_new_tokens"] for r in outcome.rows)
    if cut:
        err_console.print(f"[yellow]{cut} of {len(outcome.rows)} answers hit max_new_tokens (possibly cut)[/]")
    shortened = sum(r["prompt_shortened"] for r in outcome.rows)
    if shortened:
        err_console.print(f"[yellow]{shortened} prompt(s) were shortened in their context to fit the model[/]")
    if outcome.resumed:
        console.print(f"resumed: {outcome.resumed} item(s) were already done")
    console.print(f"run folder: {out}")


SetOption = Annotated[
    Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. --set training.lr=1e-3 (repeatable).")
]


@app.command()
@user_errors
def run(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML); see examples/.")],
    overrides: SetOption = None,
    force: Annotated[bool, typer.Option(help="Redo every stage instead of reusing finished ones.")] = False,
    allow_prompt_change: Annotated[bool, typer.Option(help="Keep the adapter this folder trained under other prompt settings and evaluate it under the new ones (flagged in red) instead of refusing.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Check config, data, splits, leakage, prompts and LoRA targets (no weights loaded), print the plan, write nothing.")] = False,
) -> None:
    """Leakage check, base eval, LoRA training, tuned eval, paired comparison: one command."""
    from lorabench.config.run import load_config
    from lorabench.evaluation.sharding import refuse_weight_sharding

    refuse_weight_sharding("run")
    # The config is checked before torch is imported: a mistake is reported in a fraction of a second.
    config = load_config(config_path, overrides or [])
    if dry_run:
        from lorabench.pipeline.dry_run import plan_lines, plan_run

        plan = plan_run(config, lambda m: console.print(m, highlight=False))
        for line in plan_lines(plan):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    from lorabench.live import run_pipeline_live

    from lorabench.evaluation.sharding import current_shard

    result = run_pipeline_live(config, console, err_console, force=force, allow_prompt_change=allow_prompt_change)
    if current_shard().main:
        console.print(f"run folder: {result.out}")


@app.command()
@user_errors
def train(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML): model, data, prompt, lora, training.")],
    overrides: SetOption = None,
    out: Annotated[Optional[Path], typer.Option(help="Training folder (default: <config out>/train).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in the folder.")] = False,
    merge: Annotated[bool, typer.Option(help="Also write the base model with the adapter merged in.")] = False,
) -> None:
    """Train a LoRA adapter only (no base/tuned evaluation); `run` does the whole pipeline."""
    from lorabench.config.run import load_config

    config = load_config(config_path, overrides or [])  # before torch is imported, as in `run`
    from lorabench.evaluation.sharding import current_shard
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.models.load import load_model
    from lorabench.pipeline.run import save_splits, split_data
    from lorabench.live import train_log_printer
    from lorabench.report.model_card import write_model_card
    from lorabench.runs.folder import ensure_run_folder
    from lorabench.training.lora import check_target_modules
    from lorabench.training.train import train_adapter

    folder = out or Path(config.out) / "train"
    ensure_run_folder(Path(config.out), "out")
    ensure_run_folder(folder, "--out")
    splits = split_data(config, lambda m: console.print(m, highlight=False))
    loaded = load_model(config.model)
    check_target_modules(loaded.model, config.lora.target_modules)
    save_splits(splits, Path(config.out))
    result = train_adapter(
        loaded, splits.train, splits.validation, folder, splits.prompt, config.lora, config.training, config.decoding,
        ScoreSettings.of(config.metrics),
        resume=resume, merge=merge, on_log=train_log_printer(console),
    )
    console.print(
        f"trained {result.steps} steps ({result.epochs:.2f} epochs) in {result.train_seconds:.0f} s, "
        f"{result.tokens_per_second:.0f} tokens/s"
    )
    if current_shard().main:
        write_model_card(result.adapter_dir)  # without results: `run` adds them after its tuned evaluation
    console.print(f"adapter: {result.adapter_dir}", highlight=False, soft_wrap=True)
    if result.merged_dir:
        console.print(f"merged model: {result.merged_dir}", highlight=False, soft_wrap=True)


@app.command()
@user_errors
def merge(
    adapter: Annotated[Path, typer.Argument(metavar="ADAPTER", help="Adapter folder saved by lorabench (train/adapter of a run).")],
    out: Annotated[Path, typer.Option(help="Folder for the merged model: safetensors, tokenizer, lorabench.json.")],
    check_items: Annotated[int, typer.Option(min=1, help="Items whose greedy answers must not change by merging.")] = 8,
    data: Annotated[Optional[str], typer.Option("--data", "-d", help="Check on the first items of this data file (default: synthetic items of the adapter's task).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help="Base model, when not where the adapter's lorabench.json says.")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 | bfloat16 | float16 (default: the dtype it was trained in).")] = None,
    force: Annotated[bool, typer.Option(help="Replace --out when it exists and is not empty.")] = False,
) -> None:
    """Merge an adapter into its base model; the merged model must answer the check items exactly as base + adapter."""
    from lorabench.training.merge import merge_adapter

    with options_named({"path": "--data", "name": "--model"}):
        result = merge_adapter(adapter, out, check_items=check_items, data=data, model=model, dtype=dtype, force=force)
    console.print(f"merged model: {result.out}", highlight=False, soft_wrap=True)  # a path to copy, unbroken
    console.print(f"{result.checked}/{result.checked} greedy answers identical ({result.items_from})", highlight=False)


@app.command()
@user_errors
def prompts(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML), as for `run`.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many items to show.")] = 3,
    split: Annotated[str, typer.Option(help="train | test: which split's first items.")] = "train",
    overrides: SetOption = None,
) -> None:
    """Print exactly what the model sees for the first items: the training text with the learned
    tokens highlighted, and how evaluation asks (stop strings, max_new_tokens). Loads the tokenizer only."""
    from lorabench.config.run import load_config

    if split not in ("train", "test"):
        raise LorabenchError(f"--split: {split!r} is not a split; use train or test")
    config = load_config(config_path, overrides or [])  # before torch is imported, as in `run`
    from lorabench.pipeline.preview import preview_prompts, render_preview

    preview = preview_prompts(config, split, n, lambda m: err_console.print(m, highlight=False))  # type: ignore[arg-type]
    for renderable in render_preview(preview):
        # Not re-wrapped: the line breaks shown are the prompt's own.
        console.print(renderable, highlight=False, soft_wrap=True)


@app.command()
@user_errors
def study(
    config_path: Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config with a `sweep:` section of lists.")],
    overrides: SetOption = None,
    force: Annotated[bool, typer.Option(help="Redo every run instead of keeping finished ones.")] = False,
    keep_going: Annotated[bool, typer.Option(help="Record a failed run and go on with the next one.")] = False,
    plan: Annotated[bool, typer.Option(help="Only list the runs the sweep expands to, and which are finished.")] = False,
) -> None:
    """Run a grid of runs (models x training sizes x strategies x seeds) on the same test items, then the study page."""
    from lorabench.evaluation.sharding import refuse_weight_sharding
    from lorabench.study.grid import load_study

    refuse_weight_sharding("study")
    loaded = load_study(config_path, overrides or [])  # before torch is imported, as in `run`
    from lorabench.live import run_study_live
    from lorabench.study.runner import is_finished

    if plan:
        for point in loaded.points:
            state = "finished" if is_finished(point, loaded.sweep.eval_each_epoch) else "to run"
            console.print(f"{point.name}: {state} -> {point.config.out}", highlight=False)
        return
    statuses, _ = run_study_live(loaded, console, force=force, keep_going=keep_going)
    failed = [s for s in statuses if s.state == "failed"]
    if failed:
        raise LorabenchError(f"{len(failed)} run(s) failed: " + "; ".join(f"{s.point.name}: {s.error}" for s in failed))


@app.command()
@user_errors
def compare(
    run_a: Annotated[Path, typer.Argument(
        metavar="RUN_A", help="Finished eval folder (e.g. runs/x/base), or lm-eval output: its --output_path folder, "
        "a results_*.json or a samples_<task>_*.jsonl file (--log_samples).",
    )],
    run_b: Annotated[Path, typer.Argument(metavar="RUN_B", help="The same kind of run, compared against RUN_A (B - A).")],
    anyway: Annotated[bool, typer.Option(help="Compare the common items even when items, prompts or decoding differ.")] = False,
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts, between 0 and 1.")] = 0.05,
    resamples: Annotated[int, typer.Option(min=100, help="Paired bootstrap resamples for continuous metrics.")] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print only one JSON object, for scripts.")] = False,
) -> None:
    """Paired comparison of two evaluations of the same items: verdict per metric, changed items."""
    from lorabench.comparison.items import change_counts
    from lorabench.comparison.lm_eval_files import is_lm_eval_output
    from lorabench.comparison.paired_runs import compare_evals, read_eval
    from lorabench.report.console import comparison_table
    from lorabench.report.verdicts import verdict_sentence

    if not 0 < alpha < 1:
        raise LorabenchError(f"--alpha: {alpha:g} is not a significance level; give a value between 0 and 1, e.g. 0.05")
    lm_eval = [is_lm_eval_output(run_a), is_lm_eval_output(run_b)]
    if any(lm_eval):
        if not all(lm_eval):
            lm, other = (run_a, run_b) if lm_eval[0] else (run_b, run_a)
            raise LorabenchError(f"{lm} is lm-eval output but {other} is not; compare two lm-eval runs or two lorabench runs")
        _compare_lm_eval(run_a, run_b, anyway, alpha, resamples, as_json)
        return
    result = compare_evals(read_eval(run_a), read_eval(run_b), anyway=anyway, alpha=alpha, resamples=resamples)
    if as_json:
        payload = {
            "a": str(run_a), "b": str(run_b), "n": result.n, "forced_despite": result.differences,
            "comparison": [c.to_dict() for c in result.comparisons], "items": change_counts(result.pairs),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    for difference in result.differences:
        console.print(f"[bold yellow]compared anyway despite[/] {difference}", highlight=False)
    console.print(comparison_table(result.comparisons, result.metrics_a, result.metrics_b, names=("A", "B")))
    console.print(f"A = {result.a.name} ({run_a}); B = {result.b.name} ({run_b})", highlight=False)
    for c in result.comparisons:
        console.print(verdict_sentence(c, before="A", after="B"), highlight=False)
    counts = change_counts(result.pairs)
    console.print(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()), highlight=False)


def _compare_lm_eval(run_a: Path, run_b: Path, anyway: bool, alpha: float, resamples: int, as_json: bool) -> None:
    """`compare` on two lm-eval runs: one verdict line per task and metric, as for lorabench runs."""
    from lorabench.comparison.lm_eval_compare import compare_lm_eval
    from lorabench.comparison.lm_eval_files import read_lm_eval
    from lorabench.report.verdicts import verdict_sentence

    result = compare_lm_eval(read_lm_eval(run_a), read_lm_eval(run_b), anyway=anyway, alpha=alpha, resamples=resamples)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    # One line per fact, never wrapped: scripts and readers grep for "TASK/METRIC: ".
    say = functools.partial(console.print, highlight=False, soft_wrap=True)
    for difference in result.differences:
        say(f"[bold yellow]compared anyway despite[/] {escape(difference)}")
    for run, label in ((result.a, "A"), (result.b, "B")):
        say(f"{label} = {escape(run.model)} ({escape(str(run.results or run.path))})")
    say("paired by doc_id: " + ", ".join(f"{task} {n} documents" for task, n in result.items.items()))
    for c in result.comparisons:
        say(escape(verdict_sentence(c, before="A", after="B")))
    for note in result.notes:
        say(f"[yellow]note:[/] {escape(note)}")

@app.command()
@user_errors
def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A finished `lorabench run` folder.")],
    screenshot: Annotated[bool, typer.Option(help="Also load the page in headless Chromium and save report.png.")] = False,
) -> None:
    """(Re)write report.html, report.md, plots/ and tables/ from a run folder's files."""
    from lorabench.report.write import write_report

    files = write_report(run_dir)
    console.print(f"report: {files.html.resolve()}")
    console.print(f"markdown: {files.markdown.resolve()}")
    if screenshot:
        from lorabench.report.browser import check_page

        check = check_page(files.html, run_dir / "report.png")
        console.print(f"screenshot: {(run_dir / 'report.png').resolve()}")
        if not check.ok:
            raise LorabenchError(f"the report did not render cleanly: {check}")


@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's run.")] = Path("demo_runs"),
    force: Annotated[bool, typer.Option(help="Redo every stage instead of reusing finished ones.")] = False,
) -> None:
    """SmolLM2 fine-tuned with LoRA on synthetic QA, compared with its base: the whole product, offline."""
    from lorabench.demo import run_demo
    from lorabench.runs.folder import ensure_run_folder

    ensure_run_folder(out, "--out")
    run_demo(out, console, force=force)


def main() -> None:
    app()
