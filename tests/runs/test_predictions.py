"""The prediction row: every writer fills the declared fields, and old rows still load."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from tests.inference.fake import FakeBackend
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.evaluation.runner import evaluate_records
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.runs.predictions import PredictionRow, dump_row, parse_row, read_predictions
from lorabench.prompts.build import PromptSettings

DECLARED = set(PredictionRow.__annotations__)


@pytest.fixture(scope="module")
def tokenizer(tiny_causal_path):
    return AutoTokenizer.from_pretrained(tiny_causal_path)


@pytest.mark.parametrize(
    ("task", "prompt", "decoding"),
    [
        ("extractive", PromptSettings(), DecodingSettings(max_new_tokens=4)),
        ("extractive", PromptSettings(strategy="batch"), DecodingSettings(max_new_tokens=4)),
        ("extractive", PromptSettings(strategy="sequential"), DecodingSettings(max_new_tokens=4)),
        ("math", PromptSettings(), DecodingSettings(max_new_tokens=4)),
        ("choice", PromptSettings(), DecodingSettings()),
        ("choice", PromptSettings(), DecodingSettings(choice_mode="letter")),
    ],
    ids=["single", "batch", "sequential", "math", "choice-options", "choice-letter"],
)
def test_every_writer_fills_the_required_fields_and_only_declared_ones(tokenizer, task, prompt, decoding):
    records = synthesize(task, 4, seed=1)
    rows = evaluate_records(FakeBackend(tokenizer), records, prompt, decoding, ScoreSettings()).rows
    for row in rows:
        assert PredictionRow.__required_keys__ <= set(row), row.keys()
        assert set(row) <= DECLARED, set(row) - DECLARED
        # What is written is what is read back.
        assert parse_row(dump_row(row), "x") == row


def test_a_row_of_an_older_version_loads_with_what_its_missing_fields_meant(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text(json.dumps({"id": 7, "gold": ["Paris"], "prediction": "Paris", "scores": {"exact_match": 1.0}}) + "\n")
    (row,) = read_predictions(path)
    assert row["id"] == "7"
    assert row["hit_max_new_tokens"] is False and row["prompt_shortened"] is False and row["stop_reason"] is None
    assert row["prompt"] == "" and row["prompt_tokens"] == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "prediction": "x", "scores": {}}', r"predictions.jsonl:2: prediction row without gold"),
        ('{"id": "a", "gold": [], "prediction": "x", "scores": 1}', r"predictions.jsonl:2: scores: expected an object"),
        ('["a"]', r"predictions.jsonl:2: not a prediction row"),
        ('{"id": "a", "gold": [', r"predictions.jsonl:2: not a JSON line"),
    ],
)
def test_a_damaged_finished_run_names_the_file_and_line(tmp_path, line, message):
    path = tmp_path / "predictions.jsonl"
    good = {"id": "0", "gold": ["x"], "prediction": "x", "scores": {"exact_match": 1.0}}
    path.write_text(json.dumps(good) + "\n" + line + "\n")
    with pytest.raises(LorabenchError, match=message):
        read_predictions(path)
