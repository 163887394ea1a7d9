"""The run folder: what is written where, and how an interrupted run resumes.

A run folder holds `config.yaml` (everything that determines the results), `predictions.jsonl`
(appended item by item, so an interrupted run loses at most the item in flight) and, only once
everything is done, `metrics.json`. A folder without `metrics.json` is unfinished, never wrong.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.runs.lock import LOCK_FILE
from lorabench.runs.predictions import PredictionRow, dump_row, parse_row

CONFIG = "config.yaml"
PREDICTIONS = "predictions.jsonl"
METRICS = "metrics.json"


def _blocking_file(path: Path) -> Path | None:
    """The path itself or the nearest existing ancestor when it is a file, so nothing can go under it."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def ensure_run_folder(path: Path, option: str, *, keyed: bool = True) -> None:
    """Refuse, before any work, an output folder that a file stands in the way of. The error is
    about the setting `option` (its `field`) unless keyed=False (a folder named in a config file)."""
    blocking = _blocking_file(Path(path))
    if blocking is not None:
        what = "is a file" if blocking == Path(path) else f"is inside {blocking}, which is a file"
        raise LorabenchError(f"{option}: {path} {what}; give a folder", field=option if keyed else None)


def ensure_output_file(path: Path, option: str) -> None:
    """Refuse an output file path that is a folder, or lies under a file."""
    path = Path(path)
    if path.is_dir():
        raise LorabenchError.about(option, f"{path} is a folder; give a file name")
    blocking = _blocking_file(path.parent)
    if blocking is not None:
        raise LorabenchError.about(option, f"{path} is inside {blocking}, which is a file")


def write_atomic(path: Path, content: str | bytes) -> Path:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content.encode("utf-8") if isinstance(content, str) else content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def csv_text(rows: Sequence[dict[str, Any]], header: Sequence[str] | None = None) -> str:
    """A CSV table of `rows`; without `header`, every key any row has, in order of appearance."""
    columns = list(header) if header is not None else list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON Lines file lorabench wrote ([] when it does not exist); a damaged line is an
    error naming the file and line."""
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            raise LorabenchError(f"{path}:{number}: not a JSON line; the run is damaged, rerun it") from None
    return rows


def questions_by_id(test: list[dict[str, Any]]) -> dict[str, str]:
    """Question (or instruction) text by id, from the rows of a run's saved test split (data/test.jsonl)."""
    return {str(row["id"]): str(row.get("question") or row.get("instruction") or "") for row in test}


def write_json(path: Path, payload: Any) -> Path:
    return write_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


# What a folder's config.yaml records about how its results were made, beside the settings that
# decide them: not compared when a run resumes (a library upgrade must not strand a half-done
# folder), but kept, so `compare` can warn about two folders made differently.
RECORDED = ("versions", "earlier_versions", "engines")
LIBRARIES = ("lorabench", "torch", "transformers", "peft")


def library_versions() -> dict[str, str | None]:
    """The installed versions of the libraries that decide what a model writes (read from package
    metadata: nothing is imported)."""
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def merge_engines(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Engine records (`{engine, items, reason?}`) summed by engine and reason, in first-seen order."""
    merged: dict[tuple[str, str | None], dict[str, Any]] = {}
    for entry in entries:
        key = (entry["engine"], entry.get("reason"))
        if key in merged:
            merged[key]["items"] += entry["items"]
        else:
            merged[key] = dict(entry)
    return list(merged.values())


def _recorded_on_resume(saved: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """What a resumed folder keeps of its saved record: the engines earlier sessions used, and the
    library versions its earlier items were made with when they differ from this session's."""
    kept: dict[str, Any] = {}
    if saved.get("engines"):
        kept["engines"] = saved["engines"]
    earlier = list(saved.get("earlier_versions") or [])
    if saved.get("versions") and config.get("versions") and saved["versions"] != config["versions"]:
        earlier.append(saved["versions"])
    if earlier:
        kept["earlier_versions"] = earlier
    return kept


def _first_difference(saved: Any, current: Any, prefix: str = "") -> str | None:
    """The dotted key where two configs first differ, with both values."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in sorted(set(saved) | set(current), key=str):
            diff = _first_difference(saved.get(key), current.get(key), f"{prefix}{key}.")
            if diff:
                return diff
        return None
    if saved != current:
        return f"{prefix.rstrip('.')}: {saved!r} -> {current!r}"
    return None


class RunFolder:
    """One evaluation's folder. Use `RunFolder.open` to create it or to resume it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def predictions_path(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @classmethod
    def open(cls, path: Path, config: dict[str, Any], force: bool = False) -> "RunFolder":
        """Create the folder, or resume it when its saved config equals `config`.

        A folder made with other settings is refused (its predictions would not be comparable)
        unless `force`, which discards its results and starts over.
        """
        run = cls(Path(path))
        if run.config_path.exists():
            saved = yaml.safe_load(run.config_path.read_text(encoding="utf-8"))
            settings = {k: v for k, v in saved.items() if k not in RECORDED} if isinstance(saved, dict) else saved
            difference = _first_difference(settings, {k: v for k, v in config.items() if k not in RECORDED})
            if difference and not force:
                raise LorabenchError(Message(
                    f"{run.path} holds a run with other settings ({difference}); "
                    "choose another output folder, or pass ", Hint("force"), " to discard it and start over",
                ))
            if force:
                run.clear()
            elif isinstance(saved, dict):
                config = {**config, **_recorded_on_resume(saved, config)}
        elif run.path.exists() and any(c.name != LOCK_FILE for c in run.path.iterdir()) and not force:
            raise LorabenchError(f"{run.path} exists and is not a lorabench run folder; choose another output folder")
        run.path.mkdir(parents=True, exist_ok=True)
        write_atomic(run.config_path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return run

    def record_engines(self, engines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add this session's generation passes (`backends.base.engines_used`, from every process of
        a launch) to config.yaml's `engines`, merged by engine and reason; the whole record comes back."""
        config = yaml.safe_load(self.config_path.read_text(encoding="utf-8")) or {}
        if not engines:  # nothing generated this session (scored choices, or all items resumed)
            return list(config.get("engines") or [])
        config["engines"] = merge_engines([*(config.get("engines") or []), *engines])
        write_atomic(self.config_path, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
        return config["engines"]

    def clear(self) -> None:
        for name in (PREDICTIONS, METRICS):
            (self.path / name).unlink(missing_ok=True)
        for child in self.path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)

    def completed(self) -> dict[str, PredictionRow]:
        """Predictions already made, by id. A last line cut by a crash is dropped and redone."""
        done: dict[str, PredictionRow] = {}
        if not self.predictions_path.exists():
            return done
        lines = self.predictions_path.read_text(encoding="utf-8").splitlines(keepends=True)
        for number, line in enumerate(lines, start=1):
            try:
                row = parse_row(line, f"{self.predictions_path}:{number}")
            except json.JSONDecodeError:
                if number == len(lines) and not line.endswith("\n"):
                    self._truncate_to(lines[:-1])
                    break
                raise LorabenchError(Message(f"{self.predictions_path}:{number}: corrupt line; rerun with ", Hint("force"))) from None
            done[row["id"]] = row
        return done

    def _truncate_to(self, lines: list[str]) -> None:
        write_atomic(self.predictions_path, "".join(lines))

    def append_predictions(self, rows: Iterable[PredictionRow]) -> None:
        """Append prediction rows and push them to disk now: this is what makes resume lose nothing."""
        with self.predictions_path.open("a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(dump_row(row))
            handle.flush()
            os.fsync(handle.fileno())

    def is_complete(self) -> bool:
        return self.metrics_path.exists()
