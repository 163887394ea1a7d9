"""What every command shares: the consoles, user errors as one line and exit code 2, the
settings a message names (the field an error is about, the hints it gives) worded as this
command's options, and the common options.

Errors caused by input (LorabenchError) print one clear line and exit with code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from typer.models import OptionInfo
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from lorabench.data.records import TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Key, Message
from lorabench.core.notices import Say, level_of

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

# Keyword arguments the long commands share, as their options: for what the library says while
# such a command runs ("skipping (use force=True to retrain)"), which names no option of its own.
FLAGS: dict[str, str] = {
    "force": "--force",
    "allow_prompt_change": "--allow-prompt-change",
    "anyway": "--anyway",
}


def command_flags(command: Callable[..., Any]) -> dict[str, str]:
    """Each parameter of a command (the library's keyword of the same name) -> its option, as typer
    declares it: `out` -> `--out`, `config_path` -> CONFIG is no option and is left out."""
    flags = {}
    for name, parameter in inspect.signature(command, eval_str=True).parameters.items():
        info = next((a for a in getattr(parameter.annotation, "__metadata__", ()) if isinstance(a, OptionInfo)), None)
        if info is None and not isinstance(parameter.default, OptionInfo):
            continue
        option = info or parameter.default
        # typer.Option("--json") in Annotated keeps its first name as the default
        names = [option.default, *(option.param_decls or ())]
        declared = [d for d in names if isinstance(d, str) and d.startswith("--")]
        flags[name] = declared[0].split("/")[0] if declared else "--" + name.replace("_", "-")
    return flags


def as_option(part: Key | Hint, flags: Mapping[str, str]) -> str:
    """One setting of a message as this command's option: a Key (what an error is about) by the
    option of its key or of the nearest enclosing key that has one (`data.path` -> `--data`); a
    Hint with its value (`prompt=FILE` -> `--prompt FILE`, `force=True` -> `--force`). A setting
    this command has no option for keeps the library's wording."""
    if isinstance(part, Key):
        keys = part.path.split(".")
        named = next((".".join(keys[:n]) for n in range(len(keys), 0, -1) if ".".join(keys[:n]) in flags), None)
        return part.path if named is None else flags[named]
    flag = flags.get(part.key)
    if flag is None:
        return str(part)
    return flag if part.value is True or part.value == "" else f"{flag} {part.value}"


def as_flags(error: LorabenchError | str, flags: Mapping[str, str]) -> str:
    """An error (or a message) in this command's terms: each setting it names (its Keys and
    Hints) as this command's option. Plain text stays as it is: nothing is read out of words."""
    message = error.message if isinstance(error, LorabenchError) else error
    if not isinstance(message, Message):
        return str(message)
    return message.render(lambda part: as_option(part, flags))


def user_errors(func: F | None = None, *, fields: Mapping[str, str] | None = None) -> Any:
    """A command whose LorabenchError becomes one line (its field and hints as this command's
    options) and exit 2. `fields`: setting key -> option, beyond the command's own parameters."""

    def decorate(command: F) -> F:
        names = {**FLAGS, **command_flags(command), **(fields or {})}

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except LorabenchError as error:
                # Escaped: a message may hold brackets (pip install 'lorabench[vllm]') that are not markup.
                text = escape(as_flags(error, names))
                err_console.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


_STYLES = {logging.WARNING: "yellow", logging.ERROR: "red"}


def say_on(out: Console, flags: Mapping[str, str] | None = None) -> Say:
    """The library's messages on `out`: warnings yellow, alarms red, the settings they name as
    options (`flags`: setting -> option, beyond FLAGS); never read as markup, so brackets in data
    print as they are."""
    names = {**FLAGS, **(flags or {})}

    def say(message: str) -> None:
        out.print(Text(as_flags(message, names), style=_STYLES.get(level_of(message), "")), highlight=False)

    return say


def input_file(path: Path, option: str) -> Path:
    """A file the command reads: missing or a folder is the user's mistake, named with the option."""
    if not path.exists():
        raise LorabenchError(f"{option}: {path}: no such file")
    if path.is_dir():
        raise LorabenchError(f"{option}: {path} is a folder; give a file")
    return path


TaskOption = Annotated[TaskKind, typer.Option("--task", "-t", help="Task kind.")]
SetOption = Annotated[
    Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. --set training.lr=1e-3 (repeatable).")
]
ConfigArgument = Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML); see examples/.")]
TrackOption = Annotated[
    Optional[list[str]], typer.Option(
        "--track", metavar="TRACKER",
        help="Send the results to a tracker: mlflow, wandb, trackio, tensorboard (repeatable; the config's "
        "tracking: section says where, else each tool's environment).")
]


def with_tracking(overrides: list[str] | None, track: list[str] | None) -> list[str]:
    """`--track mlflow --track wandb` as the override `tracking.backends=[mlflow, wandb]`."""
    return [*(overrides or []), *([f"tracking.backends=[{', '.join(track)}]"] if track else [])]


JsonOption = Annotated[bool, typer.Option("--json", help="Print only one JSON object, for scripts.")]
