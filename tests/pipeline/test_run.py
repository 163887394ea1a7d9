"""`lorabench run` end to end on a tiny model: stages, files, guards, skipping on rerun."""

from __future__ import annotations

import csv
import json

import pytest

from lorabench.cli.common import FLAGS, as_flags
from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LeakageError
from lorabench.pipeline.run import run_pipeline
from tests.run_configs import tiny_run


def _config(model_path, data_path, out, task="extractive", **data) -> RunConfig:
    training = {"lr": 5e-3, "val_metric_items": 2, "logging_steps": 1}
    return RunConfig.model_validate(tiny_run(model_path, data_path, out, task=task, training=training, data_extra=data))


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


def test_pipeline_writes_every_stage_and_skips_them_on_rerun(tiny_causal_path, qa_file, tmp_path):
    messages: list[str] = []
    config = _config(tiny_causal_path, qa_file, tmp_path / "run")
    result = run_pipeline(config, say=messages.append)
    out = tmp_path / "run"
    for name in ("config.yaml", "data/train.jsonl", "data/test.jsonl", "data/leakage.json", "base/predictions.jsonl",
                 "base/metrics.json", "train/adapter/adapter_model.safetensors", "train/adapter/lorabench.json",
                 "train/train_log.jsonl", "tuned/predictions.jsonl", "tuned/metrics.json", "summary.json", "summary.csv"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sizes"]["test"] == result.base.metrics.n
    assert {g["name"] for g in summary["guards"]} == {"format_mismatch", "adapter_applied", "answers_cut", "eos_learned"}
    assert next(g for g in summary["guards"] if g["name"] == "format_mismatch")["ok"] is True
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [r["metric"] for r in rows][:2] == ["exact_match", "f1"]
    assert rows[0]["test"] == "mcnemar_exact" and rows[1]["test"] == "paired_bootstrap"
    # the same items, the same prompts, for base and tuned
    base_ids = [json.loads(line)["id"] for line in (out / "base" / "predictions.jsonl").read_text().splitlines()]
    tuned_rows = [json.loads(line) for line in (out / "tuned" / "predictions.jsonl").read_text().splitlines()]
    assert sorted(base_ids) == sorted(r["id"] for r in tuned_rows)

    messages.clear()
    again = run_pipeline(config, say=messages.append)
    assert any("skipping" in m for m in messages)
    assert again.train is None  # nothing retrained
    assert again.base.resumed == again.base.metrics.n and again.tuned.resumed == again.tuned.metrics.n
    assert [c.to_dict() for c in again.comparisons] == [c.to_dict() for c in result.comparisons]
    # the work each stage took survives the rerun that skipped it (this session's timings do not)
    assert again.summary["work_seconds"] == result.summary["work_seconds"]
    assert result.summary["work_seconds"]["train"] > 0 and result.summary["work_seconds"]["base_eval"] > 0


def test_leakage_stops_the_run_unless_allowed(tiny_causal_path, qa_file, tmp_path):
    config = RunConfig.model_validate(
        {
            "model": str(tiny_causal_path),
            "task": "extractive",
            "data": {"train": str(qa_file), "test": str(qa_file), "split": {"validation": 0}},
            "out": str(tmp_path / "leaky"),
        }
    )
    with pytest.raises(LeakageError, match="allow_leakage"):
        run_pipeline(config, say=lambda m: None)
    assert not (tmp_path / "leaky" / "base").exists()  # stopped before any model work


def test_summary_reports_where_validation_came_from_and_the_whole_runs_training(tiny_causal_path, tmp_path):
    train = save_records(synthesize("extractive", 30, seed=7), tmp_path / "train.jsonl")
    test = save_records(synthesize("extractive", 6, seed=8), tmp_path / "test.jsonl")
    raw = _config(tiny_causal_path, train, tmp_path / "run").model_dump(mode="json")
    raw["data"] = {"train": str(train), "test": str(test), "split": {"validation": 0.1}}
    config = RunConfig.model_validate(raw)
    result = run_pipeline(config, say=lambda m: None)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["validation"]["from"] == "taken from train by split.validation=0.1"
    assert summary["validation"]["items"] == summary["sizes"]["validation"]
    assert "detects only changes" in summary["validation"]["warning"]  # val_metric_items is 2
    training = summary["training"]
    assert training["train_seconds"] == result.train.train_seconds and training["train_loss"] == result.train.train_loss
    log = [json.loads(line) for line in (tmp_path / "run" / "train" / "train_log.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in log if "train_loss" in r] == [training["train_loss"]]
    # A rerun that finds the adapter trained still reports its figures.
    again = run_pipeline(config, say=lambda m: None)
    assert again.train is None and again.summary["training"] == training


def write_chat_file(path, n, seed):
    """Conversations that end in a synthetic short question, after a greeting of their own."""
    rows = []
    for i, record in enumerate(synthesize("short", n, seed=seed)):
        rows.append({"messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": f"Hello, I am reader {i}."},
            {"role": "assistant", "content": f"Welcome, reader {i}."},
            {"role": "user", "content": record.question},
            {"role": "assistant", "content": record.answers[0]},
        ]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_a_chat_file_runs_end_to_end_with_its_history_in_every_prompt(tiny_causal_path, tmp_path):
    chat_file = write_chat_file(tmp_path / "chat.jsonl", 24, seed=3)
    result = run_pipeline(_config(tiny_causal_path, chat_file, tmp_path / "run", task="open"), say=lambda m: None)
    out = tmp_path / "run"
    saved = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    assert all(len(row["history"]) == 3 for row in saved)
    base = [json.loads(line) for line in (out / "base" / "predictions.jsonl").read_text().splitlines()]
    assert len(base) == result.base.metrics.n == 8
    assert all(row["prompt"].startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user\nHello, I am reader")
               for row in base)
    assert next(g for g in result.summary["guards"] if g["name"] == "format_mismatch")["ok"] is True
    assert "preset" not in (out / "config.yaml").read_text()


def test_a_changed_prompt_is_refused_then_evaluated_anyway_and_flagged_red(tiny_causal_path, tmp_path):
    from lorabench.core.errors import LorabenchError

    qa_file = save_records(synthesize("extractive", 30, seed=7, short_passages=True), tmp_path / "qa.jsonl")
    raw = _config(tiny_causal_path, qa_file, tmp_path / "run").model_dump(mode="json")
    raw["prompt"] = {"template": "{{ task_instruction }}\nPassage: {{ context }}\nQ: {{ question }}",
                     "answer_prefix": "A:", "few_shot": {"k": 1, "seed": 3}}
    first = run_pipeline(RunConfig.model_validate(raw), say=lambda m: None)
    meta = json.loads((tmp_path / "run" / "train" / "adapter" / "lorabench.json").read_text())
    assert meta["prompt"]["template"] == raw["prompt"]["template"] and meta["prompt"]["answer_prefix"] == "A:"
    shots = meta["prompt"]["few_shot"]["examples"]
    assert len(shots) == 2 and all(s["question"] and s["answers"] for s in shots)  # ids and texts
    assert len(meta["prompt_sha256"]) == 64
    assert all(r["prompt"].endswith("\nA:") or r["prompt"].endswith("assistant\nA:") for r in first.base.rows)
    assert (tmp_path / "run" / "config.yaml").read_text().count("examples") == 0  # the config as written

    raw["prompt"]["answer_prefix"] = "Answer:"
    changed = RunConfig.model_validate(raw)
    with pytest.raises(LorabenchError, match=r'first differing line: trained ".*A: .*" vs now ".*Answer: .*"'):
        run_pipeline(changed, say=lambda m: None)

    messages: list[str] = []
    anyway = run_pipeline(changed, say=messages.append, allow_prompt_change=True)
    assert anyway.train is None  # the adapter was kept, not retrained
    assert any("keeping the adapter" in m for m in messages)
    guard = next(f for f in anyway.findings if f.name == "format_mismatch")
    # the library names the setting; `lorabench run` words it as its option
    assert not guard.ok and "first differing line" in guard.message and "--allow-prompt-change" in as_flags(guard.message, FLAGS)
    assert guard.message.endswith("evaluated anyway, as allow_prompt_change=True asked")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["prompt_change"]["allowed_by"] == "--allow-prompt-change"
    assert all(r["prompt"].endswith("Answer:") for r in anyway.tuned.rows)  # evaluated under the new prompt
    html = (tmp_path / "run" / "report.html").read_text()
    assert '<span class="warn">WARNING</span> format_mismatch: evaluation prompts differ' in html
