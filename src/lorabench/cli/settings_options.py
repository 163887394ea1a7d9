"""Command-line options made from pydantic settings fields, so a flag's help, default and
choices are the field's own and cannot drift from the config schema.

A field becomes an option whose default is None ("not given"): the settings object then applies
its own default, and a value given is validated by the settings model, whose error names the key
(`LorabenchError.field`) that `field_flags` turns into the flag. Literal fields stay strings on the command line for that reason: pydantic's
message lists the allowed values.
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

_SCALARS = (str, int, float, bool)


@dataclass(frozen=True)
class SettingsOption:
    """One option that sets `model.field` (in the settings section `section`)."""

    section: str  # where the value goes: "model", "data", "decoding", "prompt", or nested: "decoding.vllm"
    model: type[BaseModel]
    field: str
    names: tuple[str, ...] = ()  # default: --field-name
    required: bool = False

    @property
    def info(self) -> FieldInfo:
        return self.model.model_fields[self.field]

    @property
    def flag(self) -> str:
        return self.names[0] if self.names else "--" + self.field.replace("_", "-")

    @property
    def parameter(self) -> str:
        return f"{self.section.replace('.', '_')}_{self.field}"


def command_line_type(annotation: Any) -> type | None:
    """The type an option parses (None: the field is no option, e.g. a nested settings section)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = {command_line_type(a) for a in args}
        return kinds.pop() if len(kinds) == 1 else (str if kinds <= {str, int, float} else None)
    if typing.get_origin(annotation) is typing.Literal:
        return bool if all(isinstance(a, bool) for a in args) else str
    if annotation is Path:
        return str
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation
    return annotation if annotation in _SCALARS else None


def scalar_fields(model: type[BaseModel], section: str, skip: Iterable[str] = ()) -> list[SettingsOption]:
    """Every field of `model` a command line can give, as options (a field added later comes with its flag)."""
    return [
        SettingsOption(section, model, name)
        for name, info in model.model_fields.items()
        if name not in set(skip) and command_line_type(info.annotation) is not None
    ]


def _choices(annotation: Any) -> str | None:
    """`auto|jsonl|csv` for a Literal field (the values pydantic will accept), else typer's own metavar."""
    values = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        literals = [v for a in values for v in (typing.get_args(a) if typing.get_origin(a) is typing.Literal else ())]
        return "|".join(map(str, literals)) if literals and len(literals) == len(values) else None
    if typing.get_origin(annotation) is typing.Literal and not all(isinstance(v, bool) for v in values):
        return "|".join(map(str, values))
    return None


def _help(option: SettingsOption) -> str:
    info = option.info
    text = (info.description or "").rstrip()
    default = info.get_default(call_default_factory=True) if info.default is not PydanticUndefined or info.default_factory else None
    if not option.required and default not in (None, "", [], {}) and not isinstance(default, bool):
        shown = default.value if isinstance(default, enum.Enum) else default
        text += f" [default: {shown}]"
    return text


def parameter(option: SettingsOption) -> inspect.Parameter:
    """The typer parameter for `option`: its type, its flag names, the field's description as help."""
    kind = command_line_type(option.info.annotation)
    assert kind is not None, f"{option.model.__name__}.{option.field} has no command-line type"
    names = option.names or (option.flag,)
    if kind is bool:  # both spellings, as typer gives a bool option: --trust-remote-code / --no-trust-remote-code
        names = (f"{names[0]}/--no-{names[0].removeprefix('--')}", *names[1:])
    details = {"help": _help(option), "metavar": _choices(option.info.annotation)}
    if option.required:
        annotation = Annotated[kind, typer.Option(*names, **details)]
        return inspect.Parameter(option.parameter, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
    annotation = Annotated[Optional[kind], typer.Option(*names, **details)]  # type: ignore[valid-type]
    return inspect.Parameter(option.parameter, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def given(options: Iterable[SettingsOption], values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The values given on the command line, by section (`{"decoding": {"batch_size": 4}}`); a
    nested section's values go one level down (`decoding.vllm` -> `{"decoding": {"vllm": {...}}}`)."""
    sections: dict[str, dict[str, Any]] = {}
    for option in options:
        value = values.get(option.parameter)
        if value is not None:
            node = sections
            for part in option.section.split("."):
                node = node.setdefault(part, {})
            node[option.field] = value
    return sections


def field_flags(options: Iterable[SettingsOption]) -> dict[str, str]:
    """`section.field` (the key path a LorabenchError's `field` names) -> the option that sets it."""
    return {f"{option.section}.{option.field}": option.flag for option in options}


def with_options(
    command: Callable[..., Any], options: Iterable[SettingsOption], own: inspect.Signature
) -> Callable[..., Any]:
    """`command` with a signature of its own parameters plus one per option, for typer to read."""
    generated = [parameter(option) for option in options]
    required = [p for p in generated if p.default is inspect.Parameter.empty]
    rest = [p for p in generated if p.default is not inspect.Parameter.empty]
    own_parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own.parameters.values()]
    command.__signature__ = own.replace(parameters=[*required, *own_parameters, *rest])  # type: ignore[attr-defined]
    return command
