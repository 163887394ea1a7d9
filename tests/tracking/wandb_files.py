"""Reads a W&B offline run back from its `run-<id>.wandb` file, as `wandb sync` would upload it.

The file is W&B's transaction log: a 7-byte header (":W&B", magic, version), then 32 KiB blocks of
records, each with a 7-byte header (checksum, length, type: full, first, middle, last) and a
protobuf `Record` from wandb.proto.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

_BLOCK, _HEADER = 32768, 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


@dataclass
class OfflineRun:
    run_id: str = ""
    name: str = ""
    group: str = ""
    project: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)


def _payloads(data: bytes):
    assert data[:4] == b":W&B", "not a W&B transaction log"
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # a block's tail too short for a header is padding
            pos += left
            continue
        _checksum, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if kind == 0:
            pos += left
            continue
        chunk, pos = data[pos + _HEADER:pos + _HEADER + length], pos + _HEADER + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk


def _key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def read_offline_run(path: Path, wait: float = 60) -> OfflineRun:
    """The run in `path`, once W&B's service has written it to its end (the `exit` record): the
    service writes the file on its own, and may still be at it when `finish()` has returned."""
    deadline = time.monotonic() + wait
    while True:
        records = _records(Path(path).read_bytes())
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return _run_of(records)
        time.sleep(0.2)


def _records(data: bytes) -> list[Any]:
    found = []
    for payload in _payloads(data):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        found.append(record)
    return found


def _run_of(records: list[Any]) -> OfflineRun:
    run = OfflineRun()
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":  # the run record comes again on updates, with only what changed
            run.run_id = record.run.run_id or run.run_id
            run.name = record.run.display_name or run.name
            run.group = record.run.run_group or run.group
            run.project = record.run.project or run.project
            run.config.update({_key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            run.config.update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            run.history.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            run.summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update if _key(i)})
        elif kind == "artifact":
            run.artifacts.append(record.artifact.name)
    return run


def offline_runs(wandb_dir: Path) -> list[Path]:
    return sorted(Path(wandb_dir).glob("wandb/offline-run-*/run-*.wandb"))
