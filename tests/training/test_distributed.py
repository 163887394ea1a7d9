"""Data-parallel training: 2 CPU processes (torchrun, gloo) train as 1 process does with the same global batch.

`train_adapter` is built on transformers' Trainer, so a distributed launcher needs no code of its own.
The end-to-end check runs tests/training/distributed_train_script.py once as a single process at batch 2B and
once under `python -m torch.distributed.run --nproc_per_node 2` at batch B per process, and compares
the per-step training losses and the adapters. The unit test pins that only the main process rewrites
the training log; tests/training/test_trainer.py, that the length-grouped order is grouped by the global batch.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import torch
from safetensors.torch import load_file

from lorabench.training.callbacks import _prepare_log

SCRIPT = Path(__file__).with_name("distributed_train_script.py")
SRC = Path(__file__).resolve().parents[2] / "src"
B = 2  # per-process batch of the 2-process run; the 1-process run takes 2 * B
MAX_STEPS = 4

# What the two runs may differ by. Both see the same examples at every step (see the sampler test
# below); only the float32 summation order differs (each process pads and sums its half, then gloo
# all-reduces the gradients), which moves a loss by ~1e-7 relative and an adapter weight by ~3e-6.
# A step fed different examples moves the loss by >= 5e-4 relative and the weights by ~4e-2
# (measured with the old per-device length grouping): each bound is 30x or more from either side.
LOSS_RTOL = 1e-5
WEIGHT_ATOL = 1e-4


def _env() -> dict[str, str]:
    launcher_vars = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in launcher_vars}
    env.update(
        OMP_NUM_THREADS="1",  # 2 cores, up to 3 processes: threads would only oversubscribe them
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    )
    return env


def _launch(command: list[str], log: Path) -> tuple[subprocess.Popen, IO[str]]:
    handle = log.open("w", encoding="utf-8")
    return subprocess.Popen(command, env=_env(), stdout=handle, stderr=subprocess.STDOUT), handle


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def runs(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both runs, started together (3 processes on 2 cores take less wall time than one after the other)."""
    root = tmp_path_factory.mktemp("distributed")
    common = [str(SCRIPT), str(tiny_causal_path)]
    commands = {
        "one": [sys.executable, *common, str(root / "one"), "--batch-size", str(2 * B), "--max-steps", str(MAX_STEPS)],
        "two": [
            sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            *common, str(root / "two"), "--batch-size", str(B), "--max-steps", str(MAX_STEPS),
        ],
    }
    started = time.perf_counter()
    launched = {name: _launch(command, root / f"{name}.log") for name, command in commands.items()}
    failures = []
    for name, (process, handle) in launched.items():
        try:
            process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()  # torchrun takes its workers down with it
            process.wait()
        finally:
            handle.close()
        if process.returncode != 0:
            tail = (root / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-4000:]
            failures.append(f"{name} exited with {process.returncode}:\n{tail}")
    assert not failures, "\n\n".join(failures)
    print(f"1- and 2-process runs took {time.perf_counter() - started:.1f} s")
    return {name: root / name for name in commands}


def test_both_runs_finish_and_write_an_adapter(runs):
    for out in runs.values():
        assert (out / "adapter" / "adapter_model.safetensors").is_file()
        assert json.loads((out / "adapter" / "lorabench.json").read_text())["training"]["max_steps"] == MAX_STEPS
    assert json.loads((runs["one"] / "done-rank0.json").read_text()) == {"rank": 0, "world_size": 1, "steps": 4}
    for rank in (0, 1):  # every rank ran all the steps and returned
        done = json.loads((runs["two"] / f"done-rank{rank}.json").read_text())
        assert done == {"rank": rank, "world_size": 2, "steps": MAX_STEPS}


def test_two_processes_log_the_losses_of_one_with_the_same_global_batch(runs):
    one, two = _rows(runs["one"]), _rows(runs["two"])
    # Only the main process writes the log: each step once, not once per process.
    assert [r["step"] for r in two] == [r["step"] for r in one]
    losses_one = [r["loss"] for r in one if "loss" in r]
    losses_two = [r["loss"] for r in two if "loss" in r]
    assert len(losses_one) == MAX_STEPS
    # Every step, not just the first: the same global batches step after step, and the weights stay
    # together, so the loss of step 4 still matches (it would drift if any batch or update differed).
    for step, (a, b) in enumerate(zip(losses_one, losses_two), start=1):
        assert math.isclose(a, b, rel_tol=LOSS_RTOL), f"step {step}: 1 process {a}, 2 processes {b}"
    # Trainer gathers the token count over processes: both runs trained on the same tokens.
    assert [r["tokens_seen"] for r in one if "loss" in r] == [r["tokens_seen"] for r in two if "loss" in r]
    # Validation ran on both ranks (loss by the distributed eval loop, the metric by generation on each)
    # without a hang. val_loss is Trainer's mean of per-batch means, so a 4 + 0 split and a 2 + 2 split
    # of the validation set may weigh tokens slightly differently: a looser bound.
    val_one, val_two = [r for r in one if "val_loss" in r], [r for r in two if "val_loss" in r]
    assert [r["step"] for r in val_one] == [r["step"] for r in val_two] == [MAX_STEPS]
    assert math.isclose(val_one[0]["val_loss"], val_two[0]["val_loss"], rel_tol=1e-3)
    assert val_one[0]["val_exact_match"] == val_two[0]["val_exact_match"]


def test_two_processes_train_the_adapter_of_one(runs):
    expected = load_file(runs["one"] / "adapter" / "adapter_model.safetensors")
    got = load_file(runs["two"] / "adapter" / "adapter_model.safetensors")
    assert expected.keys() == got.keys()
    moved = [k for k in expected if "lora_B" in k]
    assert moved and all(expected[k].abs().max() > 1e-3 for k in moved)  # trained, not still at zero
    for key in expected:
        assert torch.allclose(expected[key], got[key], rtol=0, atol=WEIGHT_ATOL), (
            f"{key}: max difference {(expected[key] - got[key]).abs().max().item():.2e}"
        )


# ---- unit test: what train.py does for data parallelism (the sampler: tests/training/test_trainer.py) ----


def test_only_the_main_process_rewrites_the_log(tmp_path):
    # On resume every process reads the log for the validation metrics so far; only the main one cuts
    # it back to the checkpoint (the others wait for it), so no process truncates it while another reads.
    log = tmp_path / "train_log.jsonl"
    rows = [{"step": 2, "val_exact_match": 0.5}, {"step": 4, "val_exact_match": 0.75}]
    text = "".join(json.dumps(row) + "\n" for row in rows)
    log.write_text(text, encoding="utf-8")
    assert _prepare_log(log, 2, "exact_match", write=False) == [0.5]
    assert log.read_text(encoding="utf-8") == text
    assert _prepare_log(log, 2, "exact_match") == [0.5]
    assert log.read_text(encoding="utf-8") == json.dumps(rows[0]) + "\n"
