"""Errors a user can act on. The CLI turns each into one clear line and exit code 2."""

from __future__ import annotations


class LorabenchError(Exception):
    """Base for errors caused by the user's input or setup, not by a bug in lorabench."""


class DataError(LorabenchError):
    """A problem with one row of input data, located precisely enough to fix it.

    `where` is a file path, optionally with a line (`data.jsonl:12`) or a record index
    (`data.parquet: record 7`); `field` is the offending field when one is to blame.
    """

    def __init__(self, where: str, message: str, field: str | None = None) -> None:
        self.where = where
        self.field = field
        self.reason = message
        prefix = f"{where}: field '{field}'" if field else where
        super().__init__(f"{prefix}: {message}")


class LeakageError(LorabenchError):
    """Train and test data overlap, and the user did not allow it."""


class ConfigKeyError(LorabenchError):
    """A problem with one key of a config, raised where the file is not known; the config loader
    adds the file and line. `also` is the other key of a setting given twice."""

    def __init__(self, path: tuple[str, ...], message: str, also: tuple[str, ...] | None = None) -> None:
        self.path = path
        self.reason = message
        self.also = also
        super().__init__(f"{'.'.join(path)}: {message}" + (f", also as {'.'.join(also)}" if also else ""))
