"""Errors a user can act on. The CLI turns each into one clear line and exit code 2.

An error about one setting carries its dotted key path as data (`LorabenchError.field`), so a
front end names the setting its own way (the command line: the flag that gave the value) without
reading the message text. Its text is a core.messages.Message (`LorabenchError.message`): the
field it starts with and the settings it asks for (`pass force=True`) are parts, not words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lorabench.core.messages import Key, Message

if TYPE_CHECKING:
    from pydantic import ValidationError


class LorabenchError(Exception):
    """Base for errors caused by the user's input or setup, not by a bug in lorabench.

    `field`: the dotted key path of the setting to change (`decoding.batch_size`), or None. The
    message names it too, mostly as `<field>: <reason>` (a config file's error puts its file and
    line first); `reason` is the message after a leading `<field>: `. `message`: the text as a
    Message, whose leading field is a Key and whose hints (`pass force=True`) are Hints.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        if field and not isinstance(message, Message) and message.startswith(f"{field}: "):
            message = Message(Key(field), message[len(field):])
        self.message = message if isinstance(message, Message) else Message(message)
        super().__init__(self.message)
        self.field = field
        self.reason = _after_field(self.message, field)

    @classmethod
    def about(cls, field: str, reason: str) -> LorabenchError:
        """`<field>: <reason>` (`reason` a str or a Message), with the key path as data."""
        return cls(Message(Key(field), ": ", reason), field=field)


def _after_field(message: Message, field: str | None) -> Message:
    """The message after a leading `<field>: `, else all of it."""
    parts = message.parts
    if field and len(parts) > 1 and parts[0] == Key(field) and isinstance(parts[1], str) and parts[1].startswith(": "):
        return Message(parts[1].removeprefix(": "), *parts[2:])
    return message


# Union members and validator names pydantic puts into an error's location; they name no key.
_LOC_NOISE = {"int", "float", "str", "bool", "function-after", "function-before"}


def first_problem(error: ValidationError) -> tuple[tuple[Any, ...], str, dict[str, Any]]:
    """The first problem of a pydantic error: its key path, what is wrong (an unknown key is
    "unknown key"), and pydantic's own record of it (`input`, ...)."""
    first = error.errors()[0]
    path = tuple(p for p in first["loc"] if not (isinstance(p, str) and ("[" in p or p in _LOC_NOISE)))
    return path, "unknown key" if first["type"] == "extra_forbidden" else first["msg"], first


def invalid_settings(error: ValidationError, prefix: str = "") -> LorabenchError:
    """A settings object that refused its values, as one LorabenchError naming the first problem
    by its dotted key (`decoding.batch_size: Input should be greater than 0 (got 0)`)."""
    path, reason, first = first_problem(error)
    key = ".".join([prefix, *map(str, path)] if prefix else map(str, path)) or "(top level)"
    return LorabenchError(f"{key}: {reason} (got {first['input']!r})", field=key if key != "(top level)" else None)


class DataError(LorabenchError):
    """A problem with one row of input data, located precisely enough to fix it.

    `where` is a file path, optionally with a line (`data.jsonl:12`) or a record index
    (`data.parquet: record 7`); `field` is the offending field of the record when one is to blame
    (the message then starts with `where`, not with the field).
    """

    def __init__(self, where: str, message: str, field: str | None = None) -> None:
        prefix = f"{where}: field '{field}'" if field else where
        super().__init__(f"{prefix}: {message}", field=field)
        self.where = where
        self.reason = message


class LeakageError(LorabenchError):
    """Train and test data overlap, and the user did not allow it."""


class ConfigKeyError(LorabenchError):
    """A problem with one key of a config, raised where the file is not known; the config loader
    adds the file and line. `also` is the other key of a setting given twice."""

    def __init__(self, path: tuple[str, ...], message: str, also: tuple[str, ...] | None = None) -> None:
        super().__init__(f"{'.'.join(path)}: {message}" + (f", also as {'.'.join(also)}" if also else ""),
                         field=".".join(path))
        self.path = path
        self.reason = message
        self.also = also
