"""`lorabench compare` on lm-eval runs: paired tests per task and metric, refusals, notes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from scipy import stats
from typer.testing import CliRunner

import lorabench.api as api
from lm_eval_runs import GEN_TASK, MC_TASK
from lorabench.cli import app
from lorabench.core.errors import LorabenchError
from lorabench.comparison.lm_eval_compare import compare_lm_eval
from lorabench.comparison.lm_eval_files import read_lm_eval
from lorabench.report.verdicts import verdict_sentence
from lorabench.results import LmEvalComparison, MetricVerdict

runner = CliRunner()


def _samples(output: Path, task: str) -> list[dict]:
    (path,) = output.glob(f"*/samples_{task}_*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _compare_json(*args: str) -> dict:
    result = runner.invoke(app, ["compare", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_counts_and_p_value_equal_a_hand_count_of_the_samples(lm_eval_pair):
    payload = _compare_json(str(lm_eval_pair.base), str(lm_eval_pair.tuned))
    entries = {c["metric"]: c for c in payload["comparison"]}
    assert sorted(entries) == [f"{GEN_TASK}/exact_match", f"{MC_TASK}/acc", f"{MC_TASK}/acc_norm"]
    for task, metric in ((MC_TASK, "acc"), (MC_TASK, "acc_norm"), (GEN_TASK, "exact_match")):
        base = {s["doc_id"]: s[metric] for s in _samples(lm_eval_pair.base, task)}
        tuned = {s["doc_id"]: s[metric] for s in _samples(lm_eval_pair.tuned, task)}
        improved = sum(1 for d in base if base[d] == 0 and tuned[d] == 1)
        regressed = sum(1 for d in base if base[d] == 1 and tuned[d] == 0)
        entry = entries[f"{task}/{metric}"]
        assert (entry["n"], entry["improved"], entry["regressed"]) == (len(base), improved, regressed)
        assert entry["unchanged"] == len(base) - improved - regressed
        assert entry["base"] == pytest.approx(sum(base.values()) / len(base))
        assert entry["tuned"] == pytest.approx(sum(tuned.values()) / len(tuned))
        assert entry["test"] == "mcnemar_exact"
        expected_p = stats.binomtest(improved, improved + regressed, 0.5).pvalue if improved + regressed else 1.0
        assert entry["p_value"] == pytest.approx(expected_p)
        assert entry["min_detectable"] > 0 and entry["verdict"] in ("better", "worse", "no significant difference")
    # the random adapter changed some multiple-choice answers, so the counts above were not all zero
    assert entries[f"{MC_TASK}/acc"]["improved"] + entries[f"{MC_TASK}/acc"]["regressed"] > 0
    assert payload["tasks"] == {GEN_TASK: 8, MC_TASK: 24} and payload["forced_despite"] == []


def test_every_shape_of_lm_eval_output_reads_the_same(lm_eval_pair):
    folder = lm_eval_pair.base
    (results,) = folder.glob("*/results_*.json")
    (samples,) = folder.glob(f"*/samples_{MC_TASK}_*.jsonl")
    from_folder, from_results, from_samples = read_lm_eval(folder), read_lm_eval(results), read_lm_eval(samples)
    assert from_folder.results == from_results.results == from_samples.results == results
    assert from_folder.tasks[MC_TASK].scores == from_results.tasks[MC_TASK].scores == from_samples.tasks[MC_TASK].scores
    assert list(from_samples.tasks) == [MC_TASK]
    assert from_folder.model == str(Path(from_folder.model))  # the pretrained folder, no adapter
    assert "+ peft" in read_lm_eval(lm_eval_pair.tuned).model


def test_console_shows_a_verdict_line_per_task_and_metric(lm_eval_pair):
    result = runner.invoke(app, ["compare", str(lm_eval_pair.base), str(lm_eval_pair.tuned)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"{MC_TASK}/acc: ") and "McNemar exact p" in line for line in lines)
    assert any(line.startswith(f"{GEN_TASK}/exact_match: ") for line in lines)
    assert f"paired by doc_id: {GEN_TASK} 8 documents, {MC_TASK} 24 documents" in result.output


def _copy_with(source: Path, target: Path, task: str, edit) -> Path:  # noqa: ANN001
    """A copy of an lm-eval output folder whose samples of `task` pass through `edit(line)`."""
    shutil.copytree(source, target)
    (path,) = target.glob(f"*/samples_{task}_*.jsonl")
    path.write_text("".join(json.dumps(edit(json.loads(line))) + "\n" for line in path.read_text().splitlines()))
    return target


def test_other_documents_under_the_same_doc_id_are_refused_unless_anyway(lm_eval_pair, tmp_path):
    def other_doc(line: dict) -> dict:
        return {**line, "doc_hash": "x" * 64} if line["doc_id"] == 3 else line

    changed = _copy_with(lm_eval_pair.tuned, tmp_path / "tuned", MC_TASK, other_doc)
    a, b = read_lm_eval(lm_eval_pair.base), read_lm_eval(changed)
    with pytest.raises(LorabenchError, match=rf"task {MC_TASK}: doc_hash differs on 1 doc_ids .*anyway=True"):
        compare_lm_eval(a, b)
    forced = compare_lm_eval(a, b, anyway=True)
    assert any("doc_hash" in d for d in forced.differences)
    assert forced.items[MC_TASK] == 24


def test_another_prompt_is_reported_not_refused(lm_eval_pair, tmp_path):
    def other_prompt(line: dict) -> dict:
        return {**line, "prompt_hash": "0" * 64} if line["doc_id"] < 2 else line

    changed = _copy_with(lm_eval_pair.tuned, tmp_path / "tuned", GEN_TASK, other_prompt)
    result = compare_lm_eval(read_lm_eval(lm_eval_pair.base), read_lm_eval(changed))
    assert result.differences == []
    assert any(n.startswith(f"task {GEN_TASK}: prompt text differs on 2 of 8 documents") for n in result.notes)


def test_a_task_in_one_run_only_is_refused_unless_anyway(lm_eval_pair, tmp_path):
    shutil.copytree(lm_eval_pair.tuned, tmp_path / "tuned")
    (results,) = (tmp_path / "tuned").glob("*/results_*.json")
    payload = json.loads(results.read_text())
    del payload["configs"][GEN_TASK]
    results.write_text(json.dumps(payload))
    a, b = read_lm_eval(lm_eval_pair.base), read_lm_eval(tmp_path / "tuned")
    with pytest.raises(LorabenchError, match=f"task {GEN_TASK}: only in {lm_eval_pair.base}"):
        compare_lm_eval(a, b)
    assert {c.metric.split("/")[0] for c in compare_lm_eval(a, b, anyway=True).comparisons} == {MC_TASK}


def _write_run(folder: Path, task: str, values: list[float], higher_is_better: bool = True, metric: str = "f1") -> Path:
    """A hand-made lm-eval run of one task with a continuous per-sample metric."""
    date = "2025-01-02T03-04-05.000006"
    model = folder / "model"
    model.mkdir(parents=True)
    mean = sum(values) / len(values)
    (model / f"results_{date}.json").write_text(json.dumps({
        "results": {task: {f"{metric},none": mean}}, "configs": {task: {}},
        "higher_is_better": {task: {metric: higher_is_better}}, "config": {"model_args": "pretrained=m"},
    }))
    (model / f"samples_{task}_{date}.jsonl").write_text("".join(
        json.dumps({"doc_id": i, "doc_hash": f"h{i}", "prompt_hash": "p", "filter": "none", "metrics": [metric], metric: v}) + "\n"
        for i, v in enumerate(values)
    ))
    return folder


def test_continuous_metrics_get_the_paired_bootstrap_and_their_direction(tmp_path):
    a = read_lm_eval(_write_run(tmp_path / "a", "t", [0.2, 0.4, 0.1, 0.3] * 5, higher_is_better=False))
    b = read_lm_eval(_write_run(tmp_path / "b", "t", [0.6, 0.9, 0.7, 0.8] * 5, higher_is_better=False))
    (comparison,) = compare_lm_eval(a, b, resamples=500).comparisons
    assert comparison.metric == "t/f1" and comparison.test == "paired_bootstrap"
    assert comparison.difference == pytest.approx(0.5) and comparison.ci_low is not None
    assert comparison.verdict == "worse"  # a higher value of a lower-is-better metric


def test_the_api_returns_a_typed_comparison_that_the_command_prints(tmp_path):
    a = _write_run(tmp_path / "a", "t", [0.2, 0.4, 0.1, 0.3] * 5)
    b = _write_run(tmp_path / "b", "t", [0.6, 0.9, 0.7, 0.8] * 5)
    result = api.compare_lm_eval(a, b, resamples=500)
    (expected,) = compare_lm_eval(read_lm_eval(a), read_lm_eval(b), resamples=500).comparisons
    assert isinstance(result, LmEvalComparison) and isinstance(result.comparisons[0], MetricVerdict)
    assert [c.model_dump() for c in result.comparisons] == [expected.to_dict()]
    assert result.sentences == [verdict_sentence(expected, before="A", after="B")]
    assert result.items == {"t": 20} and result.forced_despite == [] and result.notes == []
    assert (result.a, result.model_a, result.model_b) == (str(a), read_lm_eval(a).model, read_lm_eval(b).model)
    assert result.results_a == str(read_lm_eval(a).results) and result.results_a.endswith(".json")
    assert _compare_json(str(a), str(b), "--resamples", "500") == result.to_dict()
    printed = runner.invoke(app, ["compare", str(a), str(b), "--resamples", "500"], env={"COLUMNS": "400"})
    assert result.sentences[0] in printed.output and f"A = {result.model_a} ({result.results_a})" in printed.output

    # documents in one run only: the function names its keyword, the command its option
    fewer = _write_run(tmp_path / "c", "t", [0.6, 0.9, 0.7, 0.8] * 4)
    with pytest.raises(LorabenchError, match="or pass anyway=True to compare the common ones regardless"):
        api.compare_lm_eval(a, fewer)
    refused = runner.invoke(app, ["compare", str(a), str(fewer)], env={"COLUMNS": "400"})
    said = " ".join(refused.output.split())
    assert refused.exit_code == 2 and "or pass --anyway to compare the common ones regardless" in said
    assert api.compare_lm_eval(a, fewer, anyway=True, resamples=500).forced_despite


def test_lm_eval_output_against_a_lorabench_folder_is_one_line(lm_eval_pair, tmp_path):
    (tmp_path / "eval").mkdir()
    result = runner.invoke(app, ["compare", str(lm_eval_pair.base), str(tmp_path / "eval")])
    assert result.exit_code == 2 and "is lm-eval output but" in result.output and "Traceback" not in result.output
