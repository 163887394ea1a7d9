"""`lorabench merge`: the command's lines, and its refusals naming the flag to change (exit 2, nothing left behind)."""

from __future__ import annotations

import json
import shutil

import torch
from typer.testing import CliRunner

import lorabench.training.merge
from lorabench.cli import app
from lorabench.models.load import ModelSpec, load_model

runner = CliRunner()


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


def test_existing_folder_is_refused_unless_forced(adapter, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    _exit_2(_merge(str(adapter), "--out", str(out)), "--force")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    result = _merge(str(adapter), "--out", str(out), "--force", "--check-items", "2")
    assert result.exit_code == 0, result.output
    assert not (out / "notes.txt").exists() and (out / "model.safetensors").is_file()


def test_force_never_deletes_the_adapter_it_reads(adapter, tmp_path):
    copy = shutil.copytree(adapter, tmp_path / "run" / "adapter")
    _exit_2(_merge(str(copy), "--out", str(tmp_path / "run"), "--force"), "which the merge reads")
    assert (copy / "adapter_model.safetensors").is_file()


def _drift_after_merging(monkeypatch) -> list[dict[str, str]]:
    """The merged model's first answer changes; returns the answers given, base + adapter's first."""
    real, calls = lorabench.training.merge.greedy_answers, []

    def drifting(loaded, records, prompt):
        answers = real(loaded, records, prompt)
        calls.append(answers)
        if len(calls) == 2:  # the merged model's turn
            first = next(iter(answers))
            answers = {**answers, first: answers[first] + " drift"}
        return answers

    monkeypatch.setattr(lorabench.training.merge, "greedy_answers", drifting)
    return calls


def test_different_answers_fail_and_leave_no_folder(adapter, tmp_path, monkeypatch):
    calls = _drift_after_merging(monkeypatch)
    out = tmp_path / "nested" / "merged"
    result = _merge(str(adapter), "--out", str(out), "--check-items", "3", "--dtype", "float32")
    output = _exit_2(result, "merged model (float32) answers 1 of 3 check items differently")
    assert next(iter(calls[0])) in output and "drift" in output and "Keep using the adapter unmerged" in output
    assert list(tmp_path.iterdir()) == []  # neither the folder, nor its staging copy, nor the parent made for it


def test_a_16_bit_merge_that_answers_otherwise_names_the_dtype_option(adapter, tmp_path, monkeypatch):
    _drift_after_merging(monkeypatch)
    result = _merge(str(adapter), "--out", str(tmp_path / "merged"), "--check-items", "1", "--dtype", "bfloat16")
    output = _exit_2(result, "merged model (bfloat16) answers 1 of 1 check items differently")
    assert output.endswith("Merge with --dtype float32, or keep the adapter unmerged") and not (tmp_path / "merged").exists()


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


def test_model_option_replaces_the_recorded_base(adapter, tmp_path):
    _exit_2(_merge(str(adapter), "--out", str(tmp_path / "m"), "--model", str(tmp_path)), "no config.json")
