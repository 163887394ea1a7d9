"""`lorabench merge` on a tiny adapter trained here: weights written, answers checked, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import lorabench.training.merge
import tiny_models
from lorabench.models import gguf as gguf_cache
from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.config.decoding import DecodingSettings
from lorabench.training.merge import merge_adapter
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter

runner = CliRunner()


@pytest.fixture(scope="module")
def adapter(tiny_causal_path, tmp_path_factory) -> Path:
    """An adapter trained at a high rate, so that it clearly changes what the base computes."""
    records = synthesize("extractive", 8, seed=1)
    result = train_adapter(
        load_model(ModelSpec(name=str(tiny_causal_path))), records, [], tmp_path_factory.mktemp("train"),
        PromptSettings(max_prompt_tokens=128), LoraSettings(r=4, alpha=8),
        TrainSettings(max_steps=3, batch_size=4, lr=5e-2, val_metric_items=0, save_every=1000),
        DecodingSettings(max_new_tokens=4), ScoreSettings(),
    )
    return result.adapter_dir


def _merge(*argv: str):
    return runner.invoke(app, ["merge", *argv], env={"COLUMNS": "200"})


def _exit_2(result, fragment: str) -> str:
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert fragment in output, output
    return output


def test_merged_folder_holds_weights_that_answer_as_base_plus_adapter(adapter, tiny_causal_path, tmp_path):
    out = tmp_path / "merged"
    result = _merge(str(adapter), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"merged model: {out}" in result.output
    assert "8/8 greedy answers identical (synthetic extractive items)" in result.output
    for name in ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "lorabench.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.bin")) and not list(out.glob("adapter_*"))
    meta = json.loads((out / "lorabench.json").read_text())
    assert meta["merged"]["adapter"] == str(adapter) and len(meta["merged"]["adapter_sha256"]) == 64
    assert meta["task"] == json.loads((adapter / "lorabench.json").read_text())["task"]
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]  # no staging folder left beside it

    with_adapter = load_model(ModelSpec(name=str(tiny_causal_path)), adapter=str(adapter))
    merged = load_model(ModelSpec(name=str(out)))
    base = load_model(ModelSpec(name=str(tiny_causal_path)))
    ids = with_adapter.tokenizer("Question: Where did Velka grow up? Answer:", return_tensors="pt")
    with torch.no_grad():
        expected, got, plain = (m.model(**ids).logits for m in (with_adapter, merged, base))
    assert torch.allclose(expected, got, atol=1e-4)
    assert not torch.allclose(expected, plain, atol=1e-3)  # the adapter does change the model


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


def test_existing_folder_is_refused_unless_forced(adapter, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _exit_2(_merge(str(adapter), "--out", str(out)), "--force")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    result = _merge(str(adapter), "--out", str(out), "--force", "--check-items", "2")
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists() and (out / "model.safetensors").is_file()


def test_an_empty_folder_is_used(adapter, tmp_path):
    (tmp_path / "empty").mkdir()
    assert merge_adapter(adapter, tmp_path / "empty", check_items=1).checked == 1
    assert (tmp_path / "empty" / "model.safetensors").is_file()


def test_force_never_deletes_the_adapter_it_reads(adapter, tmp_path):
    copy = shutil.copytree(adapter, tmp_path / "run" / "adapter")
    _exit_2(_merge(str(copy), "--out", str(tmp_path / "run"), "--force"), "which the merge reads")
    assert (copy / "adapter_model.safetensors").is_file()


def test_different_answers_fail_and_leave_no_folder(adapter, tmp_path, monkeypatch):
    real, calls = lorabench.training.merge.greedy_answers, []

    def drifting(loaded, records, prompt):
        answers = real(loaded, records, prompt)
        calls.append(answers)
        if len(calls) == 2:  # the merged model's turn
            first = next(iter(answers))
            answers = {**answers, first: answers[first] + " drift"}
        return answers

    monkeypatch.setattr(lorabench.training.merge, "greedy_answers", drifting)
    out = tmp_path / "nested" / "merged"
    result = _merge(str(adapter), "--out", str(out), "--check-items", "3", "--dtype", "float32")
    output = _exit_2(result, "merged model (float32) answers 1 of 3 check items differently")
    assert next(iter(calls[0])) in output and "drift" in output and "Keep using the adapter unmerged" in output
    assert list(tmp_path.iterdir()) == []  # neither the folder, nor its staging copy, nor the parent made for it


def test_a_16_bit_mismatch_suggests_merging_in_float32(tmp_path):
    with pytest.raises(LorabenchError, match=r"\(bfloat16\).*'a' before, 'b' merged.*Merge with --dtype float32"):
        lorabench.training.merge._check_identical({"q1": "a"}, {"q1": "b"}, tmp_path / "merged", "bfloat16")


def test_broken_or_foreign_adapters_are_refused(adapter, tiny_causal_path, tmp_path):
    broken = shutil.copytree(adapter, tmp_path / "broken")
    (broken / "adapter_model.safetensors").write_bytes(b"\x00" * 16)
    _exit_2(_merge(str(broken), "--out", str(tmp_path / "a")), "weights are not readable")
    damaged = shutil.copytree(adapter, tmp_path / "damaged")
    (damaged / "lorabench.json").write_text('{"task": "extractive",\n  "prompt": ')
    _exit_2(_merge(str(damaged), "--out", str(tmp_path / "b")), "lorabench.json:2: not valid JSON")
    unknown = shutil.copytree(adapter, tmp_path / "unknown")
    meta = json.loads((unknown / "lorabench.json").read_text())
    (unknown / "lorabench.json").write_text(json.dumps({**meta, "task": "trivia"}))
    _exit_2(_merge(str(unknown), "--out", str(tmp_path / "e")), "lorabench.json: task: 'trivia' is not a task kind")
    plain = shutil.copytree(adapter, tmp_path / "plain")
    (plain / "lorabench.json").unlink()
    _exit_2(_merge(str(plain), "--out", str(tmp_path / "c")), "has no lorabench.json")
    _exit_2(_merge(str(tiny_causal_path), "--out", str(tmp_path / "d")), "a base model folder, not a LoRA adapter")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "damaged", "plain", "unknown"]


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


def test_model_option_replaces_the_recorded_base(adapter, tmp_path):
    _exit_2(_merge(str(adapter), "--out", str(tmp_path / "m"), "--model", str(tmp_path)), "no config.json")


def test_an_adapter_on_a_gguf_base_names_the_file_and_merges(tiny_causal_path, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_cache, "DEFAULT_CACHE_ROOT", tmp_path / "cache")  # not the user's ~/.cache
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
