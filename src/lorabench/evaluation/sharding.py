"""Data-parallel evaluation: under `accelerate launch --num_processes N` (or `torchrun`) each
process evaluates its share of the items into its own shard file, and rank 0 merges the shards in
item order, so `predictions.jsonl` and `metrics.json` are those of one process.

Questions about the same context stay in one shard, so the shared-prefix path still computes each
passage once. A shard file is appended item by item like `predictions.jsonl`, so an interrupted
process loses only its item in flight; a rerun, with any number of processes, counts every item
found in any shard or in the merged file as done.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any
from dataclasses import dataclass
from pathlib import Path

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.runs.predictions import PredictionRow, dump_row, parse_row
from lorabench.runs.folder import PREDICTIONS, RunFolder, write_atomic

SHARD_GLOB = "predictions.shard-*.jsonl"


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def current_shard() -> Shard:
    """This process's place in a launch (the launchers set RANK and WORLD_SIZE), or a lone process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return Shard(int(os.environ.get("RANK", "0")), world) if world > 1 else Shard()


@dataclass(frozen=True)
class Share:
    """One process's part of an evaluation stage: its items, and where it writes their rows."""

    shard: Shard
    run: RunFolder  # the stage's folder, which rank 0 merges every process's rows into
    part: RunFolder  # where this process appends its rows: `run` itself in a lone process
    records: list[Record]  # this process's items (`shard_records`)


def share_stage(out: Path, config: dict[str, Any], records: Sequence[Record], force: bool = False) -> Share:
    """This process's share of evaluating `records` into the run folder `out`, which is created,
    or resumed when its saved config equals `config` (`force`: cleared)."""
    shard = current_shard()
    mine = shard_records(records, shard)
    # Rank 0 creates (or, with `force`, clears) the folder before any process writes into it.
    run = RunFolder.open(out, config, force=force) if shard.main else None
    barrier(shard)
    run = run or RunFolder.open(out, config)
    return Share(shard, run, ShardFolder(out, shard) if shard.distributed else run, mine)


def merge_share(
    share: Share, records: Sequence[Record], rows: Sequence[PredictionRow], engines: list[dict[str, Any]]
) -> tuple[list[PredictionRow], list[dict[str, Any]]] | None:
    """Once every process has evaluated its share (`rows`, made by generation passes `engines`):
    on rank 0 the rows of all `records`, in item order as predictions.jsonl now holds them (the
    shard files removed), and the passes of every process as config.yaml now records them. None on
    the other processes of a launch."""
    engines = [entry for part in gathered(share.shard, engines) for entry in part]
    barrier(share.shard)
    if not share.shard.main:
        return None
    by_id = merged_rows(share.run) if share.shard.distributed else {row["id"]: row for row in rows}
    # One file in item order, whatever order the batches (or the processes) finished in.
    finish(share.run, records, by_id)
    return [by_id[r.id] for r in records], share.run.record_engines(engines)


def refuse_weight_sharding(command: str) -> None:
    """`run` and `study` go on from training to evaluation in the same processes, which needs whole
    weights on each; under FSDP or DeepSpeed each process holds a shard, so train and evaluate apart."""
    for variable, name in (("ACCELERATE_USE_FSDP", "FSDP"), ("ACCELERATE_USE_DEEPSPEED", "DeepSpeed")):
        if os.environ.get(variable, "").lower() in {"true", "1"}:
            raise LorabenchError(
                f"`lorabench {command}` cannot run under an accelerate {name} launch: train with "
                f"`accelerate launch --config_file ... -m lorabench train CONFIG`, then evaluate with "
                "`lorabench eval --adapter RUN/train/adapter` (data-parallel under a plain multi-GPU launch)"
            )


def shard_records(records: Sequence[Record], shard: Shard) -> list[Record]:
    """This shard's records, in their original order: whole context groups, dealt round-robin."""
    if not shard.distributed:
        return list(records)
    groups: dict[str, int] = {}
    for record in records:
        groups.setdefault(record.group_id, len(groups))
    return [r for r in records if groups[r.group_id] % shard.world == shard.rank]


class ShardFolder(RunFolder):
    """A run folder seen by one process of a launch: it appends to its own shard file, and counts
    as done whatever the merged file or any shard file already holds."""

    def __init__(self, path: Path, shard: Shard) -> None:
        super().__init__(path)
        self.shard = shard

    @property
    def predictions_path(self) -> Path:
        return self.path / f"predictions.shard-{self.shard.rank}.jsonl"

    def completed(self) -> dict[str, PredictionRow]:
        done = _rows(self.path / PREDICTIONS)
        for other in sorted(self.path.glob(SHARD_GLOB)):
            if other != self.predictions_path:
                done.update(_rows(other))
        done.update(super().completed())  # its own file last: it is the newest, and repairs a cut line
        return done


def _rows(path: Path) -> dict[str, PredictionRow]:
    """Rows of another process's file; a last line still being written is not counted."""
    if not path.exists():
        return {}
    rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(keepends=True), start=1):
        if line.endswith("\n"):
            row = parse_row(line, f"{path}:{number}")
            rows[row["id"]] = row
    return rows


def finish(run: RunFolder, records: Sequence[Record], rows: dict[str, PredictionRow]) -> None:
    """Write `predictions.jsonl` in item order from `rows` (every record's), and remove the shards."""
    write_atomic(run.predictions_path, "".join(dump_row(rows[r.id]) for r in records))
    for shard_file in run.path.glob(SHARD_GLOB):
        shard_file.unlink()


def merged_rows(run: RunFolder) -> dict[str, PredictionRow]:
    """Every row in the folder: the merged file, then each shard (after all processes wrote theirs)."""
    rows = _rows(run.predictions_path)
    for shard_file in sorted(run.path.glob(SHARD_GLOB)):
        rows.update(_rows(shard_file))
    return rows


def barrier(shard: Shard) -> None:
    """Wait for every process of the launch (nothing to wait for in a lone process)."""
    if not shard.distributed:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        # Only barriers go through this group, so gloo serves GPU launches too (no device to pin).
        dist.init_process_group("gloo")
    dist.barrier()


def gathered(shard: Shard, value: Any) -> list[Any]:
    """`value` from every process of the launch, in rank order (`[value]` in a lone process)."""
    if not shard.distributed:
        return [value]
    import torch.distributed as dist

    barrier(shard)  # makes sure the process group exists
    values: list[Any] = [None] * shard.world
    dist.all_gather_object(values, value)
    return values
