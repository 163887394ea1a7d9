"""Answers to judge read back from evaluation folders and predictions files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lorabench.core.errors import DataError, LorabenchError
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.judging.sources import folder_differences, items_of, read_answers

OPEN_METRICS = ("exact_match", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc")
RECORDS = synthesize("open", 4, seed=1)


def _stage(run: Path, name: str, predictions: list[str], prompt: dict | None = None) -> Path:
    """A `run` stage folder (run/base, run/tuned) over the run's saved test split."""
    save_records(RECORDS, run / "data" / "test.jsonl")
    folder = run / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump({"stage": name, "model": {"name": "m"}, "prompt": prompt or {},
                                                        "decoding": {"max_new_tokens": 32}}))
    rows = [{"id": r.id, "prompt": f"<|im_start|>user\n{r.instruction}<|im_end|>", "gold": [r.response], "prediction": p,
             "scores": {m: float(p == r.response) for m in OPEN_METRICS}} for r, p in zip(RECORDS, predictions)]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "metrics.json").write_text(json.dumps({"task": "open", "n": len(rows)}))
    return folder


def test_two_stage_folders_pair_with_questions_rebuilt_from_the_data(tmp_path):
    base = _stage(tmp_path, "base", ["I do not know."] * 4)
    tuned = _stage(tmp_path, "tuned", [r.response for r in RECORDS])
    a, b = read_answers(base), read_answers(tuned)
    assert a.question_source == "data" and a.task.value == "open"
    items = items_of([("base", a), ("tuned", b)])
    assert [i.id for i in items] == [r.id for r in RECORDS]
    first = items[0]
    assert first.question.startswith("Follow the instruction.\n\nInstruction: " + RECORDS[0].instruction)
    assert "Context: " in first.question and "<|im_start|>" not in first.question
    assert first.gold == RECORDS[0].response
    assert first.answers == {"base": "I do not know.", "tuned": RECORDS[0].response}
    assert first.exact_match == {"base": 0.0, "tuned": 1.0}
    assert folder_differences(base, tuned) == []


def test_without_its_data_a_folder_shows_the_judge_the_prompt_as_read(tmp_path):
    base = _stage(tmp_path, "base", ["x"] * 4)
    (tmp_path / "data" / "test.jsonl").unlink()
    answers = read_answers(base)
    assert answers.question_source == "prompt"
    assert answers.answers[RECORDS[0].id].question == f"<|im_start|>user\n{RECORDS[0].instruction}<|im_end|>"


def test_folders_that_differ_are_reported(tmp_path):
    base = _stage(tmp_path / "one", "base", ["x"] * 4)
    tuned = _stage(tmp_path / "two", "tuned", ["x"] * 4, prompt={"system": "Be brief."})
    assert folder_differences(base, tuned) == ["prompt.system: None vs 'Be brief.'"]


def _file(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_predictions_files_pair_by_id(tmp_path):
    base = _file(tmp_path / "base.jsonl", [{"id": "a", "question": "Q?", "gold": "Paris", "prediction": "Rome"},
                                           {"id": "b", "question": "R?", "gold": ["Oslo", "Christiania"], "prediction": "oslo"}])
    tuned = _file(tmp_path / "tuned.jsonl", [{"id": "b", "question": "R?", "gold": ["Oslo", "Christiania"], "prediction": "Oslo."},
                                             {"id": "a", "question": "Q?", "gold": "Paris", "prediction": "Paris"}])
    items = items_of([("base", read_answers(base)), ("tuned", read_answers(tuned))])
    assert [(i.id, i.gold, i.answers["tuned"], i.exact_match["tuned"]) for i in items] == [
        ("a", "Paris", "Paris", 1.0), ("b", "Oslo | Christiania", "Oslo.", 1.0)]
    single = items_of([("model", read_answers(base))])
    assert single[1].answers == {"model": "oslo"} and single[1].exact_match == {"model": 1.0}


def test_bad_inputs_are_refused_with_their_line(tmp_path):
    with pytest.raises(DataError, match=r"p.jsonl:1: field 'question': is missing"):
        read_answers(_file(tmp_path / "p.jsonl", [{"gold": "x", "prediction": "y"}]))
    with pytest.raises(DataError, match=r"q.jsonl:2: field 'id': id 'a' appears twice"):
        read_answers(_file(tmp_path / "q.jsonl", [{"id": "a", "question": "Q", "gold": "x", "prediction": "y"}] * 2))
    with pytest.raises(LorabenchError, match="no such folder or file"):
        read_answers(tmp_path / "missing")
    one = read_answers(_file(tmp_path / "one.jsonl", [{"id": "a", "question": "Q", "gold": "x", "prediction": "y"}]))
    two = read_answers(_file(tmp_path / "two.jsonl", [{"id": "b", "question": "Q", "gold": "x", "prediction": "y"}]))
    with pytest.raises(LorabenchError, match="answered different items"):
        items_of([("base", one), ("tuned", two)])


def test_a_runs_records_and_rows_make_the_same_items_as_its_folders(tmp_path):
    from lorabench.judging.sources import items_from_rows
    from lorabench.config.prompt import PromptSettings
    from lorabench.runs.predictions import read_predictions

    base = _stage(tmp_path, "base", ["I do not know."] * 4)
    tuned = _stage(tmp_path, "tuned", [r.response for r in RECORDS])
    rows = [("base", read_predictions(base / "predictions.jsonl")), ("tuned", read_predictions(tuned / "predictions.jsonl"))]
    assert items_from_rows(RECORDS, PromptSettings(), rows) == items_of([("base", read_answers(base)), ("tuned", read_answers(tuned))])
    with pytest.raises(LorabenchError, match="has no tuned answer"):
        items_from_rows(RECORDS, PromptSettings(), [rows[0], ("tuned", rows[1][1][:2])])
