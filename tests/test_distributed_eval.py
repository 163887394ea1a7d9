"""Data-parallel evaluation: 2 CPU processes (torchrun, gloo) write what 1 process writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.evaluate.sharding import Shard, ShardFolder, shard_records
from lorabench.runs import write_atomic
from tests.test_distributed import _env

TIMING = {"latency_s", "latency_per_question_s"}  # what may differ between two runs of the same evaluation


def _eval(tiny: Path, data: Path, out: Path, processes: int) -> subprocess.CompletedProcess:
    args = ["-m", "lorabench", "eval", "-m", str(tiny), "-d", str(data), "-t", "extractive", "--out", str(out),
            "--max-new-tokens", "4", "--batch-size", "3"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command = [*launcher, *args] if processes > 1 else [sys.executable, *args]
    return subprocess.run(command, env=_env(), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def evals(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dp_eval")
    data = save_records(synthesize("extractive", 14, seed=2, short_passages=True), root / "qa.jsonl")
    outs = {"one": root / "one", "two": root / "two"}
    for name, processes in (("one", 1), ("two", 2)):
        done = _eval(tiny_causal_path, data, outs[name], processes)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {**outs, "data": data}


def _rows(out: Path) -> list[dict]:
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def test_two_processes_write_the_predictions_and_metrics_of_one(evals) -> None:
    assert _rows(evals["two"]) == _rows(evals["one"])
    ids = [json.loads(line)["id"] for line in evals["data"].read_text().splitlines()]
    assert [row["id"] for row in _rows(evals["two"])] == ids  # merged in item order
    metrics = [json.loads((evals[n] / "metrics.json").read_text()) for n in ("one", "two")]
    for m in metrics:
        m.pop("timing")
    assert metrics[0] == metrics[1]
    assert not list(evals["two"].glob("predictions.shard-*"))


def test_a_rerun_with_another_process_count_resumes_everything(evals, tiny_causal_path) -> None:
    before = (evals["two"] / "predictions.jsonl").read_text()
    done = _eval(tiny_causal_path, evals["data"], evals["two"], 1)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed: 14 item(s)" in done.stdout
    assert (evals["two"] / "predictions.jsonl").read_text() == before


def test_shards_keep_context_groups_whole_and_items_in_order() -> None:
    records = synthesize("extractive", 30, seed=1, short_passages=True)
    parts = [shard_records(records, Shard(rank, 3)) for rank in range(3)]
    assert sorted(r.id for part in parts for r in part) == sorted(r.id for r in records)
    for part in parts:
        assert part == [r for r in records if r in part]
    groups = [{r.group_id for r in part} for part in parts]
    assert not (groups[0] & groups[1]) and not (groups[1] & groups[2]) and not (groups[0] & groups[2])
    assert shard_records(records, Shard()) == records


def test_a_shard_counts_every_file_as_done_and_appends_to_its_own(tmp_path: Path) -> None:
    write_atomic(tmp_path / "predictions.jsonl", json.dumps({"id": "a", "prediction": "old"}) + "\n")
    write_atomic(tmp_path / "predictions.shard-1.jsonl", json.dumps({"id": "b"}) + "\n" + '{"id": "c"')  # c is in flight
    folder = ShardFolder(tmp_path, Shard(0, 2))
    folder.append([{"id": "d"}])
    assert set(folder.completed()) == {"a", "b", "d"}
    assert (tmp_path / "predictions.shard-0.jsonl").read_text() == '{"id": "d"}\n'


def test_a_process_dealt_no_items_still_finishes_the_launch(tiny_causal_path, tmp_path: Path) -> None:
    records = synthesize("extractive", 3, seed=5, short_passages=True)
    assert len({r.group_id for r in records}) == 1  # one context: rank 1 gets nothing
    data = save_records(records, tmp_path / "qa.jsonl")
    done = _eval(tiny_causal_path, data, tmp_path / "two", 2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(_rows(tmp_path / "two")) == 3 and json.loads((tmp_path / "two" / "metrics.json").read_text())["n"] == 3
