"""FSDP and DeepSpeed ZeRO-2/3 LoRA training through the accelerate configs in examples/accelerate/.

On a CPU machine the configs are checked as accelerate reads them, and `run` refuses a sharded
launch (its evaluation stages need whole weights). The `gpu` tests launch tests/training/distributed_train_script.py
under each config on 2 GPUs and compare it with one process at the same global batch: the sharded
run must train (adapter moved), save an ordinary PEFT adapter, and log the one-process losses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate.commands.config.config_args import load_config_from_file
from safetensors.torch import load_file
from typer.testing import CliRunner

from lorabench.cli import app

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "accelerate"
SCRIPT = Path(__file__).with_name("distributed_train_script.py")
B, MAX_STEPS = 2, 4
HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None


def test_each_example_config_is_what_lora_training_needs():
    fsdp = load_config_from_file(str(CONFIGS / "fsdp.yaml"))
    assert fsdp.distributed_type == "FSDP"
    # Frozen base and trainable adapter in one FSDP unit need the original parameters kept apart,
    # and the adapter must be gathered whole when saved.
    assert fsdp.fsdp_config["fsdp_use_orig_params"] is True
    assert fsdp.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    for stage in (2, 3):
        config = load_config_from_file(str(CONFIGS / f"deepspeed_zero{stage}.yaml"))
        assert config.distributed_type == "DEEPSPEED" and config.deepspeed_config["zero_stage"] == stage
    zero3 = load_config_from_file(str(CONFIGS / "deepspeed_zero3.yaml")).deepspeed_config
    assert zero3["zero3_save_16bit_model"] is True  # else the saved adapter would hold shards' placeholders


@pytest.mark.parametrize("variable", ["ACCELERATE_USE_FSDP", "ACCELERATE_USE_DEEPSPEED"])
def test_run_refuses_a_sharded_launch_naming_what_to_do(tmp_path, monkeypatch, variable):
    config = tmp_path / "run.yaml"
    config.write_text("model: m\ntask: extractive\ndata: {source: d.jsonl}\n", encoding="utf-8")
    monkeypatch.setenv(variable, "true")
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "lorabench train" in result.output and "lorabench eval --adapter" in result.output
    assert not (tmp_path / "runs").exists()


# --- on GPUs -----------------------------------------------------------------------------------------


def _launch(command: list[str], log: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    with log.open("w", encoding="utf-8") as handle:
        process = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=900)
    assert process.returncode == 0, log.read_text(encoding="utf-8", errors="replace")[-4000:]


def _losses(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "train_log.jsonl").read_text(encoding="utf-8").splitlines()]
    return [row["loss"] for row in rows if "loss" in row]


@pytest.fixture(scope="module")
def one_process(tiny_causal_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "out"
    _launch([sys.executable, str(SCRIPT), str(tiny_causal_path), str(out), "--batch-size", str(2 * B),
             "--max-steps", str(MAX_STEPS)], out.parent / "log")
    return out


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
@pytest.mark.parametrize("name", ["fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_sharded_training_saves_the_adapter_one_process_trains(name, one_process, tiny_causal_path, tmp_path):
    if name.startswith("deepspeed") and not HAS_DEEPSPEED:
        pytest.skip("DeepSpeed is not installed: pip install deepspeed")
    out = tmp_path / "out"
    _launch([sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / f"{name}.yaml"),
             "--num_processes", "2", str(SCRIPT), str(tiny_causal_path), str(out), "--batch-size", str(B),
             "--max-steps", str(MAX_STEPS)], tmp_path / "log")
    assert not (out / "adapter" / "training_args.bin").exists()
    expected = load_file(one_process / "adapter" / "adapter_model.safetensors")
    got = load_file(out / "adapter" / "adapter_model.safetensors")
    assert expected.keys() == got.keys()  # gathered whole, under PEFT's own names
    assert all(got[k].abs().max() > 1e-3 for k in got if "lora_B" in k)  # trained, not still at zero
    for step, (a, b) in enumerate(zip(_losses(one_process), _losses(out)), start=1):
        # bf16 on GPUs; sharding only changes the order of sums.
        assert math.isclose(a, b, rel_tol=2e-2), f"step {step}: 1 process {a}, {name} {b}"
