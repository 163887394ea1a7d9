"""Trackio's local store in a temp folder: code run against it, and projects read back with Trackio's own API.

Trackio reads TRACKIO_DIR once, when it is imported, so each call runs in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def python_in(store: Path, code: str, timeout: int = 300) -> str:
    """Run `code` in a fresh Python with TRACKIO_DIR=store; its stdout."""
    env = {**os.environ, "TRACKIO_DIR": str(store), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_project(store: Path, project: str) -> dict[str, Any]:
    """The project's runs (in the order Trackio lists them), the first run's config, each run's logged
    rows, and every project in the store."""
    out = python_in(store, f"""
        import json
        import trackio
        from trackio.sqlite_storage import SQLiteStorage
        projects = SQLiteStorage.get_projects()
        runs = list(trackio.Api().runs({project!r})) if {project!r} in projects else []
        logs = {{run.name: SQLiteStorage.get_logs({project!r}, run.name) for run in runs}}
        print(json.dumps({{"projects": projects, "runs": [run.name for run in runs],
                          "config": runs[0].config if runs else {{}}, "logs": logs}}, default=str))
    """)
    return json.loads(out.strip().splitlines()[-1])
