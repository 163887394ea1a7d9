"""Reading lm-eval output: the shapes it is written in, and one clear line for each bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_runs import MC_TASK
from lorabench.core.errors import LorabenchError
from lorabench.comparison.lm_eval_files import is_lm_eval_output, read_lm_eval

DATE = "2025-01-02T03-04-05.000006"


def _line(doc_id: int, **scores: object) -> dict:
    return {"doc_id": doc_id, "doc_hash": f"d{doc_id}", "prompt_hash": "p", "filter": "none", "metrics": list(scores), **scores}


def _run(folder: Path, lines: list[dict], results: dict | None = None, task: str = "t") -> Path:
    model = folder / "org__model"
    model.mkdir(parents=True)
    payload = {"results": {task: {}}, "configs": {task: {}}, **(results or {})}
    (model / f"results_{DATE}.json").write_text(json.dumps(payload))
    (model / f"samples_{task}_{DATE}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder


def test_the_real_runs_are_detected_and_read_in_full(lm_eval_pair):
    assert is_lm_eval_output(lm_eval_pair.base)
    run = read_lm_eval(lm_eval_pair.base)
    (samples,) = lm_eval_pair.base.glob(f"*/samples_{MC_TASK}_*.jsonl")
    lines = samples.read_text().splitlines()
    table = run.tasks[MC_TASK]
    assert set(table.scores) == {"acc", "acc_norm"} and len(table.scores["acc"]) == len(lines) == 24
    assert table.skipped == [] and table.lower_is_better == set()


def test_a_lorabench_folder_or_other_files_are_not_lm_eval_output(tmp_path):
    (tmp_path / "metrics.json").write_text(json.dumps({"task": "extractive", "n": 3}))
    (tmp_path / "predictions.jsonl").write_text("{}\n")
    assert not is_lm_eval_output(tmp_path)
    assert not is_lm_eval_output(tmp_path / "metrics.json") and not is_lm_eval_output(tmp_path / "predictions.jsonl")


def test_a_truncated_line_names_the_file_and_line(tmp_path):
    folder = _run(tmp_path, [_line(0, acc=1.0), _line(1, acc=0.0)])
    samples = next(folder.glob("*/samples_*.jsonl"))
    samples.write_text(samples.read_text()[:-20])
    with pytest.raises(LorabenchError, match=rf"samples_t_{DATE}\.jsonl:2: not valid JSON .*truncated"):
        read_lm_eval(folder)


def test_results_without_logged_samples_say_to_rerun_with_log_samples(tmp_path):
    folder = _run(tmp_path, [_line(0, acc=1.0)])
    next(folder.glob("*/samples_*.jsonl")).unlink()
    with pytest.raises(LorabenchError, match="no samples logged for task t .*--log_samples"):
        read_lm_eval(folder)


@pytest.mark.parametrize(("line", "fragment"), [
    ({"doc_hash": "d", "prompt_hash": "p", "metrics": ["acc"], "acc": 1}, "field 'doc_id': missing"),
    ({"doc_id": 0, "doc_hash": "d", "prompt_hash": "p", "metrics": ["acc"]}, "field 'acc': listed in 'metrics' but has no value"),
    ({"doc_id": [0], "doc_hash": "d", "prompt_hash": "p", "metrics": []}, "field 'doc_id'"),
    ([1, 2], "expected a JSON object"),
])
def test_a_malformed_sample_line_is_named(tmp_path, line, fragment):
    folder = _run(tmp_path, [line])  # type: ignore[list-item]
    with pytest.raises(LorabenchError, match=rf":1: {fragment}"):
        read_lm_eval(folder)


def test_a_doc_logged_twice_is_refused(tmp_path):
    with pytest.raises(LorabenchError, match=r":2: field 'doc_id': doc_id 0 appears twice"):
        read_lm_eval(_run(tmp_path, [_line(0, acc=1.0), _line(0, acc=0.0)]))


def test_corpus_level_metrics_are_skipped_with_the_reason(tmp_path):
    lines = [_line(i, acc=float(i % 2), bleu=["ref", "pred"], perplexity=-1.5 - i) for i in range(4)]
    results = {"results": {"t": {"acc,none": 0.5, "bleu,none": 12.0, "perplexity,none": 7.1}}}
    table = read_lm_eval(_run(tmp_path, lines, results)).tasks["t"]
    assert list(table.scores) == ["acc"]
    assert any(s.startswith("t/bleu: its per-sample values are not scores") for s in table.skipped)
    assert any(s.startswith("t/perplexity: its reported value 7.1 is not the mean") for s in table.skipped)


def test_filters_other_than_none_are_their_own_metrics(tmp_path):
    lines = [{**_line(i, exact_match=1.0), "filter": name} for i in range(2) for name in ("strict-match", "flexible-extract")]
    table = read_lm_eval(_run(tmp_path, lines)).tasks["t"]
    assert set(table.scores) == {"exact_match,strict-match", "exact_match,flexible-extract"}


def test_a_folder_with_runs_of_several_models_asks_for_one(tmp_path):
    _run(tmp_path, [_line(0, acc=1.0)])
    other = tmp_path / "other__model"
    other.mkdir()
    (other / f"results_{DATE}.json").write_text("{}")
    with pytest.raises(LorabenchError, match="runs of several models"):
        read_lm_eval(tmp_path)


def test_the_latest_of_several_runs_is_read_and_said(tmp_path):
    folder = _run(tmp_path, [_line(0, acc=1.0)])
    model = folder / "org__model"
    later = "2025-02-02T03-04-05.000006"
    (model / f"results_{later}.json").write_text((model / f"results_{DATE}.json").read_text())
    (model / f"samples_t_{later}.jsonl").write_text(json.dumps(_line(0, acc=0.0)) + "\n")
    run = read_lm_eval(folder)
    assert run.results == model / f"results_{later}.json" and run.tasks["t"].scores["acc"] == {0: 0.0}
    assert run.notes == [f"{folder} holds 2 lm-eval runs; read the latest, results_{later}.json"]


def test_a_samples_file_alone_is_read_with_a_note(tmp_path):
    samples = tmp_path / f"samples_t_{DATE}.jsonl"
    samples.write_text(json.dumps(_line(0, acc=1.0)) + "\n")
    run = read_lm_eval(samples)
    assert run.results is None and run.tasks["t"].scores == {"acc": {0: 1.0}}
    assert "no results file of the same run beside it" in run.notes[0]
