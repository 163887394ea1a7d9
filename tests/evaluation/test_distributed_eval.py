"""Data-parallel evaluation: 2 CPU processes (torchrun, gloo) write what 1 process writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.evaluation.sharding import Shard, ShardFolder, merge_share, share_stage, shard_records
from lorabench.runs.folder import write_atomic
from tests.training.test_distributed import _env

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
    folder.append_predictions([{"id": "d"}])
    assert set(folder.completed()) == {"a", "b", "d"}
    assert (tmp_path / "predictions.shard-0.jsonl").read_text() == '{"id": "d"}\n'


def test_a_process_dealt_no_items_still_finishes_the_launch(tiny_causal_path, tmp_path: Path) -> None:
    records = synthesize("extractive", 3, seed=5, short_passages=True)
    assert len({r.group_id for r in records}) == 1  # one context: rank 1 gets nothing
    data = save_records(records, tmp_path / "qa.jsonl")
    done = _eval(tiny_causal_path, data, tmp_path / "two", 2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(_rows(tmp_path / "two")) == 3 and json.loads((tmp_path / "two" / "metrics.json").read_text())["n"] == 3


RUN_CONFIG = """model: {model}
task: extractive
data: {{source: {data}, split: {{test: 8, validation: 4, seed: 0}}, train_size: 8}}
prompt: {{max_prompt_tokens: 128}}
lora: {{r: 2, alpha: 4, dropout: 0.0, target_modules: [q_proj, v_proj]}}
training: {{epochs: 1, batch_size: {batch}, lr: 5.0e-3, warmup_ratio: 0.0, schedule: constant, val_metric_items: 4,
            logging_steps: 1}}
decoding: {{max_new_tokens: 4, batch_size: 3}}
metrics: {{bootstrap_resamples: 200}}
out: {out}
"""


@pytest.fixture(scope="module")
def pipeline_runs(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`lorabench run` as 1 process at batch 4 and as 2 processes at batch 2: the same global batches
    (8 training items, so no process pads its last batch with repeated items)."""
    root = tmp_path_factory.mktemp("dp_run")
    data = save_records(synthesize("extractive", 24, seed=3, short_passages=True), root / "qa.jsonl")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    outs = {}
    for name, batch, prefix in (("one", 4, [sys.executable]), ("two", 2, launcher)):
        config = root / f"{name}.yaml"
        config.write_text(RUN_CONFIG.format(model=tiny_causal_path, data=data, batch=batch, out=root / name))
        done = subprocess.run([*prefix, "-m", "lorabench", "run", str(config)], env=_env(), capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        (root / f"{name}.stdout").write_text(done.stdout)
        outs[name] = root / name
    return {**outs, "root": root}


def test_a_two_process_run_evaluates_each_item_once_and_reports_once(pipeline_runs) -> None:
    one, two = pipeline_runs["one"], pipeline_runs["two"]
    assert _rows(two / "base") == _rows(one / "base")  # sharded base evaluation = one process's
    for stage in ("base", "tuned"):
        ids = [row["id"] for row in _rows(two / stage)]
        assert ids == [row["id"] for row in _rows(one / stage)] and len(set(ids)) == len(ids) == 8
        assert not list((two / stage).glob("predictions.shard-*"))
    stdout = (pipeline_runs["root"] / "two.stdout").read_text()
    assert stdout.count("base vs tuned on 8 items") == 1 and stdout.count("run folder:") == 1
    summary, single = (json.loads((out / "summary.json").read_text()) for out in (two, one))
    assert summary["base"] == single["base"]
    # The adapters differ by float summation order only (~1e-6, see test_distributed.py), which
    # flips no greedy answer of this model: the whole comparison is one process's.
    assert _rows(two / "tuned") == _rows(one / "tuned")
    assert summary["comparison"] == single["comparison"]


def test_a_two_process_run_trains_on_the_global_batches_of_one(pipeline_runs) -> None:
    def losses(out: Path) -> list[float]:
        rows = [json.loads(line) for line in (out / "train" / "train_log.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if "loss" in row]

    one, two = losses(pipeline_runs["one"]), losses(pipeline_runs["two"])
    assert len(one) == len(two) > 0
    assert all(abs(a - b) <= 1e-5 * abs(a) for a, b in zip(one, two))


def test_a_lone_process_is_dealt_every_item_and_leaves_its_rows_in_item_order(tmp_path: Path) -> None:
    records = synthesize("extractive", 6, seed=1, short_passages=True)
    share = share_stage(tmp_path / "run", {"stage": "base"}, records)
    assert share.records == records and share.part is share.run and not share.shard.distributed
    rows = [{"id": r.id, "prediction": str(i)} for i, r in enumerate(records)]
    merged = merge_share(share, records, rows[::-1], [{"engine": "padded", "items": 6}])
    assert merged is not None
    in_order, engines = merged
    assert in_order == rows
    written = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert written == rows
    assert engines == yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["engines"]
    assert [e["items"] for e in engines] == [6]
