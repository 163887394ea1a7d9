"""What every command shares: the consoles, user errors as one line and exit code 2, the
library's key names turned into this command's option names, and the common options.

Errors caused by input (LorabenchError) print one clear line and exit with code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from lorabench.data.records import TaskKind
from lorabench.core.errors import LorabenchError
from lorabench.core.notices import Say, level_of

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

# The library names what to change as a keyword argument or a config key; on the command line it
# is an option. Every command maps these; a command with options of its own adds its keys.
FLAGS: dict[str, str] = {
    "force=True": "--force",
    "allow_prompt_change=True": "--allow-prompt-change",
    "anyway=True": "--anyway",
}


def as_flags(message: str, flags: Mapping[str, str]) -> str:
    """`message` with each library key that stands alone replaced by its option (longest first)."""
    for key in sorted(flags, key=len, reverse=True):
        message = re.sub(rf"(?<![\w.-]){re.escape(key)}", lambda _, flag=flags[key]: flag, message)
    return message


def user_errors(func: F | None = None, *, flags: Mapping[str, str] | None = None) -> Any:
    """A command whose LorabenchError becomes one line (its keys as this command's options) and exit 2."""
    names = {**FLAGS, **(flags or {})}

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except LorabenchError as error:
                # Escaped: a message may hold brackets (pip install 'lorabench[vllm]') that are not markup.
                text = escape(as_flags(str(error), names))
                err_console.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


_STYLES = {logging.WARNING: "yellow", logging.ERROR: "red"}


def say_on(out: Console, flags: Mapping[str, str] | None = None) -> Say:
    """The library's messages on `out`: warnings yellow, alarms red, its keys as options; never
    read as markup, so brackets in data print as they are."""
    names = {**FLAGS, **(flags or {})}

    def say(message: str) -> None:
        out.print(Text(as_flags(str(message), names), style=_STYLES.get(level_of(message), "")), highlight=False)

    return say


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
SetOption = Annotated[
    Optional[list[str]], typer.Option("--set", help="Override a config key, e.g. --set training.lr=1e-3 (repeatable).")
]
ConfigArgument = Annotated[Path, typer.Argument(metavar="CONFIG", help="Run config (YAML); see examples/.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only one JSON object, for scripts.")]
