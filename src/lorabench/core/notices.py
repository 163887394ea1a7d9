"""What the library says while it works, as plain text with a level; the caller decides how it looks.

Library code never formats for a terminal. A message is a `str` (so a callback that collects or
prints strings keeps working) that carries a `logging` level: `warn(...)` for something the user
should look at, `alarm(...)` for a result that must not be trusted as is. A notice is a
core.messages.Message: the settings it names (`use force=True to retrain`) are data, which the
CLI words as its options. The CLI colours them; by default (no callback given) they go to the
`lorabench` logger at their level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from lorabench.core.messages import Message, Part

Say = Callable[[str], None]

logger = logging.getLogger("lorabench")


class Notice(Message):
    """A message with a `logging` level; compares and prints as its text."""

    level: int = logging.INFO

    def __new__(cls, *parts: Part, level: int = logging.INFO) -> "Notice":
        notice = super().__new__(cls, *parts)
        notice.level = level
        return notice


def warn(*parts: Part) -> Notice:
    """Worth a look (leakage allowed by config, a small validation set, ids shared across splits)."""
    return Notice(*parts, level=logging.WARNING)


def alarm(*parts: Part) -> Notice:
    """A result that is not what it seems unless the user reads this (leakage, prompts changed)."""
    return Notice(*parts, level=logging.ERROR)


def level_of(message: str) -> int:
    return getattr(message, "level", logging.INFO)


def log(message: str) -> None:
    """The default `say`: the message to the `lorabench` logger at its level."""
    logger.log(level_of(message), "%s", message)
