"""`lorabench score`: the table, metrics.json, --json, and a bad row as one line."""

import json

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def _predictions(tmp_path):
    path = tmp_path / "preds.jsonl"
    rows = [
        {"id": "a", "gold": ["Velmora"], "prediction": "Velmora"},
        {"id": "b", "gold": ["1842"], "prediction": "It was 1842."},
        {"id": "c", "gold": ["the Brevik Guild"], "prediction": "Oslet"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_score_prints_table_and_writes_metrics(tmp_path):
    path = _predictions(tmp_path)
    result = runner.invoke(app, ["score", str(path), "--task", "extractive"])
    assert result.exit_code == 0, result.output
    assert "exact_match" in result.output and "short" in result.output
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 3


def test_score_json_is_one_object_with_fractions(tmp_path):
    path = _predictions(tmp_path)
    result = runner.invoke(app, ["score", str(path), "--task", "extractive", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n"] == 3
    assert abs(payload["exact_match"] - 1 / 3) < 1e-6
    assert payload["lenient_match"] == 2 / 3 or abs(payload["lenient_match"] - 2 / 3) < 1e-6
    for name in ("exact_match", "f1", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc"):
        assert 0.0 <= payload[name] <= 1.0
    assert payload["short"]["n"] == 3


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"gold": "x", "prediction": "x"}\n{"gold": "x"}\n')
    result = runner.invoke(app, ["score", str(path), "--task", "extractive"])
    assert result.exit_code == 2
    assert f"{path}:2: field 'prediction'" in result.output.replace("\n", "")
    assert "Traceback" not in result.output
