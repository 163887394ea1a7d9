"""The result types: summary.json old and new reads back, a judged folder reads back, and the
notebook view escapes data."""

from __future__ import annotations

import json
import logging

import pytest

from lorabench.core.errors import LorabenchError
from lorabench.core.notices import Notice, alarm, level_of, log, warn
from lorabench.results import EvalResult, JudgeResult, MetricScores, RunResult, RunSummary
from lorabench.results.judged import preferred_side
from tests.judging.scripted import scripted_result

# summary.json as the first release wrote it (commit a96b3ca): no validation, short_comparison,
# work_seconds or min_detectable; training without train_loss and train_seconds.
FIRST_RELEASE_SUMMARY = {
    "lorabench": "0.1.0",
    "task": "extractive",
    "model": {"name": "smollm2-135m-instruct", "source": "gguf", "dtype": "float32"},
    "sizes": {"train": 67, "validation": 8, "test": 50},
    "base": {"task": "extractive", "n": 50, "exact_match": 0.12, "f1": 0.41,
             "ci95": {"exact_match": [0.056, 0.238], "f1": [0.33, 0.49]}},
    "tuned": {"task": "extractive", "n": 50, "exact_match": 0.62, "f1": 0.78,
              "ci95": {"exact_match": [0.482, 0.741], "f1": [0.70, 0.85]}},
    "comparison": [
        {"metric": "exact_match", "n": 50, "base": 0.12, "tuned": 0.62, "difference": 0.5, "p_value": 1.1e-07,
         "test": "mcnemar_exact", "verdict": "better", "improved": 26, "regressed": 1, "ci_low": None, "ci_high": None},
        {"metric": "f1", "n": 50, "base": 0.41, "tuned": 0.78, "difference": 0.37, "p_value": 0.0001,
         "test": "paired_bootstrap", "verdict": "better", "improved": None, "regressed": None, "ci_low": 0.28, "ci_high": 0.46},
    ],
    "guards": [{"name": "adapter_applied", "ok": True, "message": "tuned answers differ on 40 of 50 items", "details": {}}],
    "leakage": {"train_vs_test": {"exact_questions": 0}},
    "timings": {"load_seconds": 3.2, "base_eval_seconds": 40.1, "train_seconds": 200.5, "tuned_eval_seconds": 38.0},
    "training": {"steps": 18, "epochs": 2.0, "tokens_per_second": 900.0, "best_val_metric": 0.5, "stopped_early": False},
}


def test_a_first_release_summary_reads_back(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(FIRST_RELEASE_SUMMARY))
    summary = RunSummary.read(tmp_path)
    assert summary.verdict("exact_match").verdict == "better" and summary.verdict("exact_match").improved == 26
    assert summary.verdict("exact_match").min_detectable is None
    assert summary.base.values == {"exact_match": 0.12, "f1": 0.41} and summary.tuned.ci95["f1"] == [0.70, 0.85]
    assert summary.training is not None and summary.training.train_loss is None and summary.training.steps == 18
    assert summary.validation is None and summary.short_comparison is None and summary.work_seconds is None
    assert summary["sizes"]["test"] == 50  # the dict view older code indexes
    html = RunResult.from_folder(tmp_path)._repr_html_()
    assert "exact_match" in html and "12.0 [5.6, 23.8]" in html and "better" in html and "adapter_applied" in html
    assert summary.to_json_dict() == FIRST_RELEASE_SUMMARY  # rewritten, it keeps the shape it had


def test_unknown_keys_are_kept_and_missing_ones_named(tmp_path):
    newer = {**FIRST_RELEASE_SUMMARY, "from_a_later_version": {"x": 1}}
    assert RunSummary.model_validate(newer).to_json_dict()["from_a_later_version"] == {"x": 1}
    (tmp_path / "summary.json").write_text(json.dumps({"task": "extractive"}))
    with pytest.raises(LorabenchError, match="summary.json: not a lorabench summary"):
        RunSummary.read(tmp_path)
    with pytest.raises(LorabenchError, match="finished `lorabench run` folder"):
        RunSummary.read(tmp_path / "nowhere")
    with pytest.raises(KeyError, match="rouge_l: not compared in this run; compared: exact_match, f1"):
        RunSummary.model_validate(FIRST_RELEASE_SUMMARY).verdict("rouge_l")


def test_the_notebook_view_escapes_what_comes_from_data_and_models():
    hostile = "<script>alert(1)</script>"
    summary = RunSummary.model_validate({
        **FIRST_RELEASE_SUMMARY, "model": {"name": hostile},
        "guards": [{"name": "format_mismatch", "ok": False, "message": f"line differs: {hostile}", "details": {}}],
        "prompt_change": {"first_difference": hostile},
    })
    html = summary._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "WARNING" in html
    result = EvalResult(out="runs/x", model=hostile, data="<b>data</b>", task="extractive",
                        metrics=MetricScores.model_validate(FIRST_RELEASE_SUMMARY["base"]), hit_max_new_tokens=3)
    html = result._repr_html_()
    assert "<script>" not in html and "<b>data" not in html and "3 of 50 answers hit max_new_tokens" in html


def test_metric_scores_serialise_in_the_files_key_order():
    scores = MetricScores.model_validate(FIRST_RELEASE_SUMMARY["tuned"])
    assert list(scores.model_dump(mode="json")) == ["task", "n", "exact_match", "f1", "ci95"]


def test_notices_are_strings_with_a_level_that_the_default_say_logs(caplog, monkeypatch):
    assert warn("w") == "w" and isinstance(alarm("a"), Notice) and level_of("plain") == logging.INFO
    # A library that configures logging with dictConfig (disable_existing_loggers) in the same test
    # process switches existing loggers off; what is tested here is what lorabench sends.
    monkeypatch.setattr(logging.getLogger("lorabench"), "disabled", False)
    with caplog.at_level(logging.INFO, logger="lorabench"):
        log(warn("validation is small"))
        log("data: train 8")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "validation is small"), (logging.INFO, "data: train 8")]


def test_a_short_subset_of_every_item_is_named_not_tabled_twice():
    comparison = FIRST_RELEASE_SUMMARY["comparison"]
    whole = {**FIRST_RELEASE_SUMMARY, "short_comparison": {"thresh": 3, "n": 50, "comparison": comparison}}
    html = RunSummary.model_validate(whole)._repr_html_()
    assert html.count("<table>") == 1 and "all 50 test items, so the table above is theirs" in html
    part = {**FIRST_RELEASE_SUMMARY, "short_comparison": {"thresh": 3, "n": 20, "comparison": comparison}}
    html = RunSummary.model_validate(part)._repr_html_()
    assert html.count("<table>") == 2 and "short answers (gold &lt;= 3 tokens), 20 items" in html


def test_a_pair_is_won_only_when_both_orders_pick_the_same_side():
    assert preferred_side("B", "A") == "second" and preferred_side("A", "B") == "first"
    assert preferred_side("A", "A") == "tie"  # the same position twice: the position won, not an answer
    assert preferred_side("tie", "tie") == "tie" and preferred_side("B", "unparseable") == "tie"


def test_a_judged_folder_reads_back_and_a_damaged_one_is_named(tmp_path):
    import lorabench

    assert lorabench.JudgeResult is JudgeResult
    result = scripted_result(tmp_path, out=tmp_path / "judged")
    again = JudgeResult.read(tmp_path / "judged")
    assert again.to_dict() == result.to_dict() and again.judgments == result.judgments
    assert JudgeResult.read(tmp_path / "not judged") is None
    (tmp_path / "judged" / "judgments.jsonl").write_text('{"id": "item-0"}\n')
    with pytest.raises(LorabenchError, match=r"judgments.jsonl:1: not a lorabench judge result \("):
        JudgeResult.read(tmp_path / "judged")
    (tmp_path / "judged" / "judge.json").write_text("{")
    with pytest.raises(LorabenchError, match=r"judge.json: not a lorabench judge result \("):
        JudgeResult.read(tmp_path / "judged")


def test_the_judges_notebook_view_says_trust_first_and_escapes_the_judge(tmp_path):
    result = scripted_result(tmp_path)
    html = result.model_copy(update={"judge": {**result.judge, "model": "<script>x</script>"}})._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert html.index("passed its gold check") < html.index("judge_correct")
    assert "6 wins, 0 losses, 4 ties" in html and "48 distinct judge prompts" in html
