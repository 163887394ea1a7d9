"""The adapter's README.md: Hub front matter, settings, results with intervals, and safe Markdown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.run import run_pipeline
from lorabench.report.model_card import card_text, run_results, shareable, write_model_card
from tests.run_configs import tiny_run


def _meta(**base: Any) -> dict[str, Any]:
    """A lorabench.json as train_adapter writes it, for a hub base unless `base` says otherwise."""
    return {
        "lorabench": "0.1.0",
        "task": "extractive",
        "prompt": {"chat_template": "auto", "system": None, "instruction": None, "unanswerable_hint": False,
                   "max_prompt_tokens": 1024},
        "max_prompt_tokens_used": 1000,
        "chat_template": {"used": True, "sha256": "ab" * 32},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]},
        "training": {"epochs": 2.0, "lr": 0.0002, "batch_size": 8, "report_to": []},
        "base_model": {"name": "HuggingFaceTB/SmolLM2-135M-Instruct", "kind": "hub", "path": "HuggingFaceTB/SmolLM2-135M-Instruct",
                       "revision": None, "gguf_file": None, "sha256": None, "dtype": "float32", "load_in_4bit": False,
                       "is_seq2seq": False, **base},
        "data": {"train_items": 120, "val_items": 20},
    }


def _summary() -> dict[str, Any]:
    comparisons = [
        {"metric": "exact_match", "n": 40, "base": 0.1, "tuned": 0.45, "difference": 0.35, "p_value": 0.0001,
         "test": "mcnemar_exact", "verdict": "better", "improved": 15, "regressed": 1, "unchanged": 24,
         "ci_low": None, "ci_high": None, "min_detectable": 0.2},
        {"metric": "f1", "n": 40, "base": 0.3, "tuned": 0.6, "difference": 0.3, "p_value": 0.002,
         "test": "paired_bootstrap", "verdict": "better", "ci_low": 0.12, "ci_high": 0.44, "min_detectable": 0.1},
    ]
    block = {"task": "extractive", "n": 40}
    return {
        "sizes": {"train": 120, "validation": 20, "test": 40},
        "base": {**block, "exact_match": 0.1, "f1": 0.3, "ci95": {"exact_match": [0.04, 0.23], "f1": [0.2, 0.4]}},
        "tuned": {**block, "exact_match": 0.45, "f1": 0.6, "ci95": {"exact_match": [0.31, 0.6], "f1": [0.5, 0.7]}},
        "comparison": comparisons,
        "guards": [{"name": "answers_cut", "ok": False, "message": "3 answers hit max_new_tokens"},
                   {"name": "eos_learned", "ok": True, "message": "fine"}],
    }


def _front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_card_without_results_has_hub_metadata_and_every_setting() -> None:
    text = card_text(_meta())
    assert _front_matter(text) == {
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct", "library_name": "peft",
        "pipeline_tag": "text-generation", "tags": ["lorabench", "lora", "extractive"],
    }
    assert "not evaluated yet" in text and "## Results" not in text
    for row in ("| r | 8 |", "| target_modules | ['q_proj', 'v_proj'] |", "| lr | 0.0002 |", "| training items | 120 |",
                "| validation items | 20 |", "| max_prompt_tokens_used | 1000 |", "| chat_template_used | True |"):
        assert row in text, row
    assert 'AutoModelForCausalLM.from_pretrained("HuggingFaceTB/SmolLM2-135M-Instruct")' in text


def test_card_with_results_shows_intervals_verdicts_and_failed_guards() -> None:
    text = card_text(_meta(), run_results(_summary(), alpha=0.05))
    assert "not evaluated yet" not in text and "on 40 held-out test items" in text and "alpha 0.05" in text
    assert "| exact_match | 10.0 [4.0, 23.0] | 45.0 [31.0, 60.0] | +35.0 (+15/-1) | mcnemar exact | 0.0001 | better |" in text
    assert "| f1 | 30.0 [20.0, 40.0] | 60.0 [50.0, 70.0] | +30.0 [+12.0, +44.0] | paired bootstrap |" in text
    assert "- exact_match: better, base 10.0% -> tuned 45.0%" in text
    assert "- WARNING answers_cut: 3 answers hit max_new_tokens" in text and "eos_learned" not in text
    assert "| test items | 40 |" in text


def test_text_from_config_cannot_break_the_markdown() -> None:
    meta = _meta()
    meta["prompt"]["system"] = "Answer | briefly\n# not a heading <script>alert(1)</script> `tick`"
    meta["base_model"]["name"] = 'org/x"y'
    text = card_text(meta)
    row = next(line for line in text.splitlines() if line.startswith("| system |"))
    assert row == "| system | Answer \\| briefly # not a heading &lt;script&gt;alert(1)&lt;/script&gt; \\`tick\\` |"
    assert "<script>" not in text
    assert 'from_pretrained("org/x\\"y")' in text  # a valid Python string, whatever the name holds


def test_local_and_gguf_bases_are_named_without_the_users_home(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    folder = card_text(_meta(kind="folder", name=str(tmp_path / "models" / "tiny"), path=str(tmp_path / "models" / "tiny")))
    assert str(tmp_path) not in folder and "~/models/tiny" in folder and "hf_secret_value" not in folder
    assert "base_model" not in _front_matter(folder)  # the Hub links hub ids only
    assert "The base is a local folder" in folder
    gguf = card_text(_meta(kind="alias", name="smollm2-135m-instruct", path=str(tmp_path / "x.gguf"), sha256="c" * 64))
    assert str(tmp_path) not in gguf and "PeftModel" not in gguf and "lorabench merge" in gguf
    assert "--model smollm2-135m-instruct" in gguf
    assert shareable("relative/base") == "relative/base" and shareable("/opt/models/x") == "/opt/models/x"


def test_seq2seq_base_gets_its_auto_class_and_pipeline() -> None:
    text = card_text(_meta(is_seq2seq=True))
    assert "AutoModelForSeq2SeqLM.from_pretrained" in text
    assert _front_matter(text)["pipeline_tag"] == "text2text-generation"


# ---- written by `lorabench train` and `lorabench run` ----------------------------------------------


def _config(model: Path, data: Path, out: Path) -> dict[str, Any]:
    return tiny_run(model, data, out, test=6, validation=2, training={"val_metric_items": 0})


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory) -> Path:
    return save_records(synthesize("extractive", 20, seed=3), tmp_path_factory.mktemp("data") / "qa.jsonl")


def test_train_writes_the_card_without_results(tiny_causal_path, qa_file, tmp_path) -> None:
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump(_config(tiny_causal_path, qa_file, tmp_path / "run")))
    result = CliRunner().invoke(app, ["train", str(config_file)])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "run" / "train" / "adapter" / "README.md").read_text()
    assert "not evaluated yet" in card and "| r | 2 |" in card and "Model Card for Model ID" not in card


def test_run_rewrites_the_card_with_its_results_also_when_resumed(tiny_causal_path, qa_file, tmp_path) -> None:
    config = RunConfig.model_validate(_config(tiny_causal_path, qa_file, tmp_path / "run"))
    result = run_pipeline(config, say=lambda _: None)
    card_path = tmp_path / "run" / "train" / "adapter" / "README.md"
    card = card_path.read_text()
    n = result.base.metrics.n
    assert f"on {n} held-out test items" in card and "| exact_match |" in card and f"| test items | {n} |" in card
    assert str(tiny_causal_path) in card  # a tmp folder outside the home: shown as given

    card_path.write_text("stale")
    again = run_pipeline(config, say=lambda _: None)
    assert again.train is None  # every stage was found finished, and the card still comes back
    assert card_path.read_text() == card
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert write_model_card(card_path.parent, tmp_path / "run").read_text() == card_text(
        json.loads((card_path.parent / "lorabench.json").read_text()), run_results(summary, 0.05)
    )


def test_few_shot_examples_show_as_their_ids_and_templates_as_settings() -> None:
    meta = _meta()
    examples = [{"id": "shot-1", "context": "A long passage " * 20, "question": "q?", "answers": ["a"]}]
    meta["prompt"] = {**meta["prompt"], "answer_prefix": "Answer:", "few_shot": {"k": 1, "seed": 0, "examples": examples}}
    text = card_text(meta)
    assert "shot-1" in text and "A long passage" not in text and "Answer:" in text


# ---- the Hub's model-index ------------------------------------------------------------------------


def test_results_go_into_a_model_index_that_huggingface_hub_parses_back() -> None:
    from huggingface_hub import ModelCard

    summary = {**_summary(), "task": "extractive", "test_data": {"name": "qa.jsonl", "sha256": "ab" * 32}}
    card = ModelCard(card_text(_meta(), run_results(summary, alpha=0.05)), ignore_metadata_errors=False)
    assert card.data.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert card.data.model_name == "SmolLM2-135M-Instruct-lora-extractive"
    found = {result.metric_name: result for result in card.data.eval_results}
    assert sorted(found) == ["exact_match (base model)", "exact_match (tuned)", "f1 (base model)", "f1 (tuned)"]
    assert found["exact_match (base model)"].metric_value == 10.0 and found["exact_match (tuned)"].metric_value == 45.0
    assert found["f1 (tuned)"].metric_type == "f1" and found["f1 (tuned)"].metric_value == 60.0
    for result in found.values():
        assert (result.dataset_type, result.dataset_split, result.dataset_revision) == ("qa.jsonl", "test", "ab" * 32)
        assert result.dataset_name == "qa.jsonl, 40 test items" and result.task_type == "text-generation"


def test_a_run_names_its_data_file_and_the_fingerprint_of_its_test_items(tiny_causal_path, qa_file, tmp_path) -> None:
    from huggingface_hub import ModelCard

    from lorabench.core.kinds import get_task
    from lorabench.data.records import records_digest
    from lorabench.data.loaders import load_records
    from lorabench.data.spec import DataSpec

    run_pipeline(RunConfig.model_validate(_config(tiny_causal_path, qa_file, tmp_path / "run")), say=lambda _: None)
    card = ModelCard.load(tmp_path / "run" / "train" / "adapter" / "README.md", ignore_metadata_errors=False)
    test = load_records(DataSpec(path=tmp_path / "run" / "data" / "test.jsonl", task="extractive")).records
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["test_data"] == {"name": "qa.jsonl", "sha256": records_digest(get_task("extractive"), test)}
    results = card.data.eval_results
    assert len(results) == 2 * len(summary["comparison"])
    assert {(r.dataset_type, r.dataset_revision) for r in results} == {("qa.jsonl", records_digest(get_task("extractive"), test))}
    tuned = next(r for r in results if r.metric_name == "exact_match (tuned)")
    assert tuned.metric_value == round(100 * summary["tuned"]["exact_match"], 2)
