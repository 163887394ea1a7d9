"""Messages whose settings are data, so each front end names them its own way.

A message that tells the user what to change ("pass allow_prompt_change=True", "use
decoding.backend=hf") holds that setting as a part, not as words: a `Hint` (a setting to give, with
its value) or a `Key` (the setting a message is about). As a `str` it reads in the library's terms
(`force=True`, `decoding.batch_size`), so a caller that prints, compares or collects strings needs
nothing else; the command line renders each part as the option of the command that runs
(`--force`, `--batch-size`) with `Message.render`, never by reading the text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Key:
    """The setting a message is about, by its key path (`decoding.batch_size`) or keyword (`few_shot_from`)."""

    path: str

    def __str__(self) -> str:
        return self.path


@dataclass(frozen=True)
class Hint:
    """A setting a message asks for: `key=value` to the library, `--option value` on the command line.

    `key` is a keyword argument of lorabench.api (`force`) or a dotted config key (`decoding.backend`).
    `value` True is a switch (`force=True`, `--force`); "" names the setting alone (`an adapter=
    trained with few_shot`, `an --adapter trained with few_shot`).
    """

    key: str
    value: Any = True

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


Part = Union[str, Key, Hint]


class Message(str):
    """Text made of plain strings, Keys and Hints; compares and prints as its library wording."""

    parts: tuple[Part, ...]

    def __new__(cls, *parts: Part) -> Message:
        flat = tuple(p for part in parts for p in (part.parts if isinstance(part, Message) else (part,)))
        message = super().__new__(cls, "".join(map(str, flat)))
        message.parts = flat
        return message

    def render(self, name: Callable[[Key | Hint], str]) -> str:
        """The text with each setting as `name` words it (the command line: its option)."""
        return "".join(name(p) if isinstance(p, (Key, Hint)) else p for p in self.parts)

    def join(self, items: Iterable[str]) -> Message:
        """`"; ".join(found)` that keeps the settings of the items that are Messages."""
        joined: list[Part] = []
        for index, item in enumerate(items):
            joined += [self, item] if index else [item]
        return Message(*joined)

    # `"prefix: " + message` and `message + "suffix"` keep the settings; an f-string does not.
    def __add__(self, other: str) -> Message:
        return Message(self, other) if isinstance(other, str) else NotImplemented

    def __radd__(self, other: str) -> Message:
        return Message(other, self) if isinstance(other, str) else NotImplemented
