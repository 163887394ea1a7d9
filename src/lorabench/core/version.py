"""lorabench's version, read once from the installed package's metadata (pyproject's `version`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lorabench")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
