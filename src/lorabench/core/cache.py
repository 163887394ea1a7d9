"""Where lorabench keeps what it makes once and reuses across runs: converted GGUF models, the judge's verdicts."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CACHE_ROOT = Path.home() / ".cache" / "lorabench"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder lorabench caches into: `cache_dir` when given, else ~/.cache/lorabench."""
    return Path(cache_dir).expanduser() if cache_dir else DEFAULT_CACHE_ROOT
