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

from lorabench.cli.common import TrackOption, command_flags, console, err_console, input_file, say_on, user_errors
from lorabench.cli.settings_options import SettingsOption, field_flags, given, scalar_fields, with_options
from lorabench.config.decoding import DecodingSettings, VLLMSettings
from lorabench.data.records import TaskKind
from lorabench.data.spec import DataSpec
from lorabench.config.settings import ModelSpec
from lorabench.config.prompt import PromptSettings

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

def eval_command(
    adapter: Annotated[Optional[str], typer.Option(help="LoRA adapter folder to apply on the model.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Evaluate only the first N items.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder (default: runs/eval-<model>-<data>-<task>).")] = None,
    prompt: Annotated[Optional[Path], typer.Option("--prompt", help="Prompt settings (templates, answer prefix, few_shot) from a YAML file: a run config's `prompt:` section, an adapter's lorabench.json, or the settings alone.")] = None,
    few_shot_from: Annotated[Optional[Path], typer.Option(help="Training records to draw prompt.few_shot's examples from (default: the adapter's own).")] = None,
    allow_prompt_change: Annotated[bool, typer.Option(help="Evaluate an adapter under prompts other than its training ones (recorded, and flagged).")] = False,
    force: Annotated[bool, typer.Option(help="Discard an existing run folder with other settings.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the metrics JSON.")] = False,
    track: TrackOption = None,
    **settings: Any,
) -> None:
    """Evaluate a model (optionally with an adapter) on a task; resumes an interrupted run."""
    import lorabench.api as api
    from lorabench.cli.live import progress_bars
    from lorabench.cli.tables import metrics_table

    sections = given(EVAL_OPTIONS, settings)
    prompt_settings: Any = None
    if prompt is not None or "prompt" in sections:
        base = api.prompt_settings(input_file(prompt, "--prompt")) if prompt else PromptSettings()
        prompt_settings = {**base.model_dump(), **sections.get("prompt", {})}
    if few_shot_from is not None:
        input_file(few_shot_from, "--few-shot-from")
    task = TaskKind(settings["data_task"])
    shard = api.current_shard()
    bars, factory = progress_bars(err_console)
    bars.disable = as_json or shard.distributed  # several processes would draw over each other
    with bars:
        result = api.evaluate(
            sections["model"], sections["data"], adapter=adapter, out=out, limit=limit, prompt=prompt_settings,
            decoding=sections.get("decoding"), few_shot_from=few_shot_from, allow_prompt_change=allow_prompt_change,
            force=force, progress=lambda total, done: factory(f"eval {task.value}", total, done),
            track=track, say=say_on(err_console if as_json else console, EVAL_FIELDS),
        )
    if not shard.main:
        return  # rank 0 merged the shards and reports for all of them
    if result.prompt_change_text is not None:
        err_console.print(f"[bold red]evaluated under prompts the adapter was not trained with "
                          f"(--allow-prompt-change): {escape(result.prompt_change_text or '')}[/]", highlight=False)
    if as_json:
        sys.stdout.write(json.dumps(result.metrics.model_dump()) + "\n")
        return
    applied = f" + adapter {adapter}" if adapter else ""
    data = settings["data_path"]
    console.print(metrics_table(result.metrics, title=f"{result.model}{applied} on {data} ({task.value}, %, 95% CI)"))
    if result.hit_max_new_tokens:
        err_console.print(f"[yellow]{result.hit_max_new_tokens} of {result.metrics.n} answers hit max_new_tokens (possibly cut)[/]")
    if result.prompt_shortened:
        err_console.print(f"[yellow]{result.prompt_shortened} prompt(s) were shortened in their context to fit the model[/]")
    if result.resumed:
        console.print(f"resumed: {result.resumed} item(s) were already done")
    console.print(f"run folder: {result.out}")


_own = inspect.signature(eval_command)
_own = _own.replace(parameters=[p for p in _own.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD])
command = user_errors(with_options(eval_command, EVAL_OPTIONS, _own), fields=field_flags(EVAL_OPTIONS))
# Every key an eval error can name -> its option: the command's own parameters and the settings options.
EVAL_FIELDS = {**command_flags(eval_command), **field_flags(EVAL_OPTIONS)}
