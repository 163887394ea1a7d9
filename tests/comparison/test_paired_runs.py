"""`lorabench compare`: two finished evaluation folders, paired by item id, refused when not comparable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.core.errors import LorabenchError
from lorabench.comparison.paired_runs import compare_evals, read_eval

DECODING = {"max_new_tokens": 32, "batch_size": 8}
PROMPT = {"chat_template": "auto", "system": None}


def _eval_folder(path: Path, correct: list[bool], decoding=DECODING, prompt=PROMPT, stage=True, ids=None) -> Path:
    """A finished eval folder as `lorabench run` (stage=True) or `lorabench eval` writes it."""
    path.mkdir(parents=True)
    ids = ids or [f"q{i}" for i in range(len(correct))]
    settings = {"prompt": prompt, "decoding": decoding}
    config = {"stage": "x", "model": {"name": "m"}, **settings} if stage else {"request": settings, "model": {"name": "m"}}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [{"id": i, "prompt": f"Question {i}?", "gold": ["Paris"], "prediction": "Paris" if ok else "Rome",
             "scores": {"exact_match": float(ok), "f1": float(ok), "relaxed_match": float(ok), "lenient_match": float(ok),
                        "token_f1": float(ok), "rouge_l": float(ok), "rouge_l_acc": float(ok)}}
            for i, ok in zip(ids, correct)]
    (path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (path / "metrics.json").write_text(json.dumps({"task": "extractive", "n": len(rows)}))
    return path


def test_paired_comparison_of_two_folders(tmp_path):
    a = _eval_folder(tmp_path / "a", [False] * 10 + [True] * 10)
    b = _eval_folder(tmp_path / "b", [True] * 9 + [False] + [True] * 9 + [False], stage=False)
    result = compare_evals(read_eval(a), read_eval(b))
    em = next(c for c in result.comparisons if c.metric == "exact_match")
    assert (em.improved, em.regressed, result.n) == (9, 1, 20)
    assert em.p_value == pytest.approx(22 / 1024)  # 2 * P(X <= 1 | 10, 1/2)
    assert em.verdict == "better" and result.differences == []
    assert sum(p.change == "improved" for p in result.pairs) == 9


def test_different_decoding_is_refused_unless_anyway(tmp_path):
    a = _eval_folder(tmp_path / "a", [True, False, True])
    b = _eval_folder(tmp_path / "b", [True, True, True], decoding={**DECODING, "max_new_tokens": 64})
    with pytest.raises(LorabenchError, match="decoding.max_new_tokens: 32 vs 64"):
        compare_evals(read_eval(a), read_eval(b))
    result = compare_evals(read_eval(a), read_eval(b), anyway=True)
    assert result.differences == ["decoding.max_new_tokens: 32 vs 64"]


def test_different_items_are_refused_or_compared_on_the_common_ones(tmp_path):
    a = _eval_folder(tmp_path / "a", [True, False, True], ids=["x", "y", "z"])
    b = _eval_folder(tmp_path / "b", [True, True, True], ids=["y", "z", "w"])
    with pytest.raises(LorabenchError, match="items: 1 only in"):
        compare_evals(read_eval(a), read_eval(b))
    result = compare_evals(read_eval(a), read_eval(b), anyway=True)
    assert result.n == 2 and [p.id for p in result.pairs] == ["y", "z"]


def test_unfinished_folder_is_named(tmp_path):
    a = _eval_folder(tmp_path / "a", [True])
    (a / "metrics.json").unlink()
    with pytest.raises(LorabenchError, match="no metrics.json.*unfinished"):
        read_eval(a)


def test_compare_command(tmp_path):
    a = _eval_folder(tmp_path / "a", [False] * 12)
    b = _eval_folder(tmp_path / "b", [True] * 12)
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "exact_match: better" in result.output and "improved 12" in result.output
    as_json = json.loads(runner.invoke(app, ["compare", str(a), str(b), "--json"]).output)
    assert as_json["items"]["improved"] == 12 and as_json["comparison"][0]["min_detectable"] > 0
    c = _eval_folder(tmp_path / "c", [True] * 12, prompt={**PROMPT, "system": "Be brief."})
    refused = runner.invoke(app, ["compare", str(a), str(c)])
    assert refused.exit_code == 2 and "prompt.system" in refused.output and "--anyway" in refused.output
    forced = runner.invoke(app, ["compare", str(a), str(c), "--anyway"])
    assert forced.exit_code == 0 and "compared anyway despite" in forced.output


def test_runs_scored_under_different_metric_definitions_are_not_compared(tmp_path):
    a = _eval_folder(tmp_path / "a", [True, False, True])
    b = _eval_folder(tmp_path / "b", [True, True, True])
    config = yaml.safe_load((b / "config.yaml").read_text())
    (b / "config.yaml").write_text(yaml.safe_dump({**config, "scoring_version": 2}))
    with pytest.raises(LorabenchError, match="metric definitions: version 1 vs 2"):
        compare_evals(read_eval(a), read_eval(b))


def test_rows_without_a_metric_of_today_are_refused(tmp_path):
    folder = _eval_folder(tmp_path / "a", [True, False])
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    for row in rows:
        row["scores"].pop("f1", None)
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(LorabenchError, match="rows have no f1"):
        read_eval(folder)
