import json

import pytest

from lorabench.core.errors import DataError
from lorabench.evaluation.scorefile import score_file, write_metrics


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_scores_extractive_file_and_writes_metrics(tmp_path):
    path = _write(
        tmp_path / "preds.jsonl",
        [
            {"id": "1", "gold": ["the Main Building", "Main Building"], "prediction": "Main Building"},
            {"id": "2", "gold": "1889", "prediction": "in 1889"},
        ],
    )
    result = score_file(path, "extractive")
    assert result.metrics.n == 2
    assert result.metrics.metrics["exact_match"].value == 0.5
    assert result.metrics.metrics["lenient_match"].value == 1.0
    metrics_path = write_metrics(result, tmp_path, path)
    saved = json.loads(metrics_path.read_text())
    assert saved["exact_match"] == 0.5 and saved["n"] == 2 and "short" in saved
    assert [json.loads(line)["id"] for line in (tmp_path / "scores.jsonl").read_text().splitlines()] == ["1", "2"]


@pytest.mark.parametrize(
    "row, field, fragment",
    [
        ({"prediction": "x"}, "gold", "missing"),
        ({"gold": "", "prediction": "x"}, "gold", "empty"),
        ({"gold": "a"}, "prediction", "missing"),
        ({"gold": "a", "prediction": 3}, "prediction", "must be a string"),
        ({"gold": 5, "prediction": "x"}, "gold", "string or a list"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, row, field, fragment):
    path = _write(tmp_path / "p.jsonl", [{"gold": "ok", "prediction": "ok"}, row])
    with pytest.raises(DataError) as info:
        score_file(path, "extractive")
    assert info.value.where == f"{path}:2"
    assert info.value.field == field
    assert fragment in str(info.value)


def test_math_gold_without_number_is_an_error_with_line(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"gold": "#### 4", "prediction": "4"}, {"gold": "four", "prediction": "4"}])
    with pytest.raises(DataError, match=r"p\.jsonl:2: field 'gold'"):
        score_file(path, "math")


def test_skip_invalid_reports_every_skipped_row(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"gold": "a", "prediction": "a"}, "{not json", {"gold": "b"}])
    result = score_file(path, "extractive", skip_invalid=True)
    assert result.metrics.n == 1
    assert [e.where for e in result.skipped] == [f"{path}:2", f"{path}:3"]


def test_choice_with_options_and_labels(tmp_path):
    path = _write(
        tmp_path / "p.jsonl",
        [
            {"gold": "B", "prediction": "The answer is B", "options": ["x", "y", "z"]},
            {"gold": "C", "prediction": "y", "options": ["x", "y", "z"]},
        ],
    )
    result = score_file(path, "choice")
    assert result.metrics.metrics["accuracy"].value == 0.5


def test_extractive_unanswerable_gold_list(tmp_path):
    path = _write(tmp_path / "p.jsonl", [{"gold": [], "prediction": ""}, {"gold": [], "prediction": "Paris"}])
    assert score_file(path, "extractive").metrics.metrics["exact_match"].value == 0.5
