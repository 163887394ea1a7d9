"""`lorabench merge` on a tiny adapter trained here: weights written, answers checked, refusals."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

import lorabench.training.merge
import tiny_models
from lorabench.core import cache as core_cache
from lorabench.cli import app
from lorabench.cli.common import as_flags, command_flags
from lorabench.cli.merge import merge as merge_command
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint
from lorabench.config.decoding import DecodingSettings
from lorabench.training.merge import merge_adapter
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter

runner = CliRunner()


def test_lorabench_eval_runs_on_the_merged_model(adapter, tmp_path):
    out = tmp_path / "merged"
    merge_adapter(adapter, out, check_items=2)
    data = save_records(synthesize("extractive", 3, seed=2), tmp_path / "qa.jsonl")
    result = runner.invoke(app, ["eval", "-m", str(out), "-d", str(data), "-t", "extractive", "--max-new-tokens", "2",
                                 "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["n"] == 3


def test_check_items_come_from_data_when_given(adapter, tmp_path):
    data = save_records(synthesize("extractive", 3, seed=5), tmp_path / "qa.jsonl")
    result = merge_adapter(adapter, tmp_path / "merged", check_items=10, data=str(data))
    assert result.checked == 3 and result.items_from == f"the first 3 items of {data}"


def test_an_empty_folder_is_used(adapter, tmp_path):
    (tmp_path / "empty").mkdir()
    assert merge_adapter(adapter, tmp_path / "empty", check_items=1).checked == 1
    assert (tmp_path / "empty" / "model.safetensors").is_file()


def test_a_16_bit_mismatch_suggests_merging_in_float32(tmp_path):
    with pytest.raises(LorabenchError) as raised:
        lorabench.training.merge._check_identical({"q1": "a"}, {"q1": "b"}, tmp_path / "merged", "bfloat16")
    # `lorabench merge` words the setting as its option; the library names the setting itself
    said = as_flags(raised.value, command_flags(merge_command))
    assert re.search(r"\(bfloat16\).*'a' before, 'b' merged.*Merge with --dtype float32", said)
    assert str(raised.value).endswith("Merge with dtype=float32, or keep the adapter unmerged")
    assert Hint("dtype", "float32") in raised.value.message.parts and "--dtype" not in str(raised.value)


def test_an_adapted_tied_head_is_not_merged(adapter, tmp_path):
    tied = shutil.copytree(adapter, tmp_path / "tied")
    meta = json.loads((tied / "lorabench.json").read_text())
    meta["lora"]["target_modules"] = ["q_proj", "lm_head"]
    (tied / "lorabench.json").write_text(json.dumps(meta))
    with pytest.raises(LorabenchError, match="cannot merge: .*'lm_head'.*tied"):
        merge_adapter(tied, tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_a_relative_base_is_found_from_another_directory(adapter, tiny_causal_path, tmp_path, monkeypatch):
    moved = shutil.copytree(adapter, tmp_path / "adapter")
    meta = json.loads((moved / "lorabench.json").read_text())
    meta["base_model"]["name"] = "tiny_base"  # as typed in the folder the user trained from
    (moved / "lorabench.json").write_text(json.dumps(meta))
    monkeypatch.chdir(tmp_path)
    assert merge_adapter(moved, tmp_path / "merged", check_items=1).base == str(tiny_causal_path)


def test_an_adapter_on_a_gguf_base_names_the_file_and_merges(tiny_causal_path, tmp_path, monkeypatch):
    monkeypatch.setattr(core_cache, "DEFAULT_CACHE_ROOT", tmp_path / "cache")  # not the user's ~/.cache
    gguf = tiny_models.write_llama_gguf(tiny_causal_path, tmp_path / "tiny.gguf")
    spec = ModelSpec(name=str(gguf))
    records = synthesize("extractive", 4, seed=1)
    result = train_adapter(
        load_model(spec), records, [], tmp_path / "train", PromptSettings(max_prompt_tokens=128), LoraSettings(r=2, alpha=4),
        TrainSettings(max_steps=1, batch_size=4, val_metric_items=0, save_every=1000), DecodingSettings(max_new_tokens=4),
        ScoreSettings(),
    )
    config = json.loads((result.adapter_dir / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(gguf)  # the file, not the converted copy under cache/
    merged = merge_adapter(result.adapter_dir, tmp_path / "merged", check_items=2)
    assert merged.base == str(gguf) and (tmp_path / "merged" / "model.safetensors").is_file()
