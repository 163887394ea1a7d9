"""`lorabench eval`: one model (optionally with an adapter) on one data set; resumes.

Its settings options are made from the settings models' fields (cli/settings_options.py): help,
defaults and choices are the config schema's. Every scalar field of DecodingSettings is an option,
so a decoding setting added to the schema is a flag here with nothing else to write; model, data
and prompt settings are listed in EVAL_OPTIONS. Options that are not settings (the run folder, the
prompt file, ...) are the parameters of `eval_command` below.
"""

# No `from __future__ import annotations`: typer reads these annotations, and the generated ones, as objects.

import inspect
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from lorabench.cli.common import FLAGS, console, err_console, input_file, options_named, user_errors
from lorabench.cli.settings_options import SettingsOption, given, key_flags, renames, scalar_fields, with_options
from lorabench.data.spec import DataSpec
from lorabench.config.decoding import DecodingSettings, VLLMSettings
from lorabench.prompts.build import PromptSettings
from lorabench.config.settings import ModelSpec

EVAL_OPTIONS: list[SettingsOption] = [
    SettingsOption("model", ModelSpec, "name", ("--model", "-m"), required=True),
    SettingsOption("data", DataSpec, "path", ("--data", "-d"), required=True),
    SettingsOption("data", DataSpec, "task", ("--task", "-t"), required=True),
    SettingsOption("data", DataSpec, "format"),
    SettingsOption("data", DataSpec, "preset"),
    *scalar_fields(DecodingSettings, "decoding"),
    *scalar_fields(VLLMSettings, "decoding.vllm"),
    SettingsOption("prompt", PromptSettings, "chat_template"),
    SettingsOption("prompt", PromptSettings, "system"),
    SettingsOption("model", ModelSpec, "dtype"),
    SettingsOption("model", ModelSpec, "device"),
    SettingsOption("model", ModelSpec, "trust_remote_code"),
]

# The library's names for what the user can change, as this command's options.
EVAL_FLAGS = {
    **key_flags(EVAL_OPTIONS),
    "few_shot_from=FILE": "--few-shot-from FILE",
    "few_shot_from:": "--few-shot-from:",
    "prompt=": "--prompt ",
    "adapter=": "--adapter",
    "decoding.backend=hf": "--backend hf",
    "decoding.choice_mode=": "--choice-mode ",
}


def eval_command(
    adapter: Annotated[Optional[str], typer.Option(help="LoRA adapter folder to apply on the model.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Evaluate only the first N items.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder (default: runs/eval-<model>-<data>-<task>).")] = None,
    prompt_file: Annotated[Optional[Path], typer.Option("--prompt", help="Prompt settings (templates, answer prefix, few_shot) from a YAML file: a run config's `prompt:` section, an adapter's lorabench.json, or the settings alone.")] = None,
    few_shot_from: Annotated[Optional[Path], typer.Option(help="Training records to draw prompt.few_shot's examples from (default: the adapter's own).")] = None,
    allow_prompt_change: Annotated[bool, typer.Option(help="Evaluate an adapter under prompts other than its training ones (recorded, and flagged).")] = False,
    force: Annotated[bool, typer.Option(help="Discard an existing run folder with other settings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the metrics JSON.")] = False,
    **settings: Any,
) -> None:
    """Evaluate a model (optionally with an adapter) on a task; resumes an interrupted run."""
    from lorabench.api import default_eval_folder
    from lorabench.cli.live import progress_bars
    from lorabench.config.run import load_prompt_settings
    from lorabench.evaluation.runner import EvalConfig, run_eval
    from lorabench.evaluation.sharding import current_shard
    from lorabench.cli.tables import metrics_table
    from lorabench.runs.folder import ensure_run_folder

    sections = given(EVAL_OPTIONS, settings)
    base_prompt = load_prompt_settings(input_file(prompt_file, "--prompt")) if prompt_file else PromptSettings()
    if few_shot_from is not None:
        input_file(few_shot_from, "--few-shot-from")
    with options_named(renames(EVAL_OPTIONS)):
        config = EvalConfig(
            model=ModelSpec(**sections["model"]),
            adapter=adapter,
            data=DataSpec(**sections["data"]),
            limit=limit,
            prompt=PromptSettings(**{**base_prompt.model_dump(), **sections.get("prompt", {})}),
            decoding=DecodingSettings(**sections.get("decoding", {})),
        )
    model, data, task = config.model.name, settings["data_path"], config.data.task
    out = out or default_eval_folder(model, data, task)
    ensure_run_folder(out, "--out")

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


_own = inspect.signature(eval_command)
_own = _own.replace(parameters=[p for p in _own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD])
command = user_errors(with_options(eval_command, EVAL_OPTIONS, _own), flags={**FLAGS, **EVAL_FLAGS})
