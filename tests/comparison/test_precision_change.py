"""Two evaluations made at different precisions: refused like a prompt change, unless allowed (then said).

The folders are real: the tiny model evaluated in float32 and in bfloat16 on the CPU, through the API.
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import lorabench
from lorabench.cli import app
from lorabench.comparison.paired_runs import compare_evals, precision_change, read_eval
from lorabench.core.errors import LorabenchError
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize


@pytest.fixture(scope="module")
def evaluations(tiny_causal_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("precisions")
    data = save_records(synthesize("extractive", 6, seed=3), root / "qa.jsonl")
    made = {}
    for dtype in ("float32", "bfloat16"):
        made[dtype] = lorabench.evaluate(
            {"name": str(tiny_causal_path), "dtype": dtype, "device": "cpu"}, data, "extractive",
            out=root / dtype, decoding={"max_new_tokens": 4},
        )
    made["float32_again"] = lorabench.evaluate(
        {"name": str(tiny_causal_path), "dtype": "float32", "device": "cpu"}, data, "extractive",
        out=root / "float32_again", decoding={"max_new_tokens": 4},
    )
    return made


def test_each_evaluation_records_its_precision(evaluations):
    for dtype in ("float32", "bfloat16"):
        folder = evaluations[dtype].out
        assert yaml.safe_load((folder / "config.yaml").read_text())["model"]["dtype"] == dtype
        assert json.loads((folder / "metrics.json").read_text())["precision"] == dtype
        assert evaluations[dtype].metrics.n == 6  # bfloat16 evaluation runs on the CPU, every item answered
    assert read_eval(evaluations["bfloat16"].out).precision == "bfloat16"


def test_float32_results_are_unchanged_by_the_setting(evaluations):
    """float32 chosen explicitly answers exactly as before: two float32 runs, the same rows."""
    rows = [json.loads(line) for line in (evaluations["float32"].out / "predictions.jsonl").read_text().splitlines()]
    again = [json.loads(line) for line in (evaluations["float32_again"].out / "predictions.jsonl").read_text().splitlines()]
    assert [r["raw"] for r in rows] == [r["raw"] for r in again]
    assert compare_evals(read_eval(evaluations["float32"].out), read_eval(evaluations["float32_again"].out)).warnings == []


def test_different_precisions_are_refused_unless_allowed(evaluations):
    a, b = read_eval(evaluations["float32"].out), read_eval(evaluations["bfloat16"].out)
    assert precision_change(a, b) == "float32 vs bfloat16"
    with pytest.raises(LorabenchError, match=r"different precisions \(model.dtype float32 vs bfloat16\).*allow_precision_change=True"):
        compare_evals(a, b)
    with pytest.raises(LorabenchError, match="different precisions"):
        compare_evals(a, b, anyway=True)  # anyway is about items, prompts and decoding; precision has its own switch
    allowed = compare_evals(a, b, allow_precision_change=True)
    assert allowed.warnings[0] == ("compared across precisions, as allowed: A float32, B bfloat16; "
                                   "part of the difference may be the precision's")


def test_the_api_keyword(evaluations):
    with pytest.raises(LorabenchError, match="allow_precision_change=True"):
        lorabench.compare(evaluations["float32"], evaluations["bfloat16"])
    result = lorabench.compare(evaluations["float32"], evaluations["bfloat16"], allow_precision_change=True)
    assert result.n == 6 and result.warnings[0].startswith("compared across precisions")


def test_the_command_refuses_naming_its_flag_and_warns_when_allowed(evaluations):
    a, b = str(evaluations["float32"].out), str(evaluations["bfloat16"].out)
    runner = CliRunner()
    refused = runner.invoke(app, ["compare", a, b])
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "different precisions (model.dtype float32 vs bfloat16)" in said and "--allow-precision-change" in said
    assert "Traceback" not in refused.output
    allowed = runner.invoke(app, ["compare", a, b, "--allow-precision-change"])
    assert allowed.exit_code == 0, allowed.output
    assert "warning: compared across precisions, as allowed: A float32, B bfloat16" in " ".join(allowed.output.split())
    as_json = json.loads(runner.invoke(app, ["compare", a, b, "--allow-precision-change", "--json"]).output)
    assert as_json["warnings"][0].startswith("compared across precisions")


def test_folders_that_record_no_precision_are_compared_as_before(tmp_path):
    from tests.comparison.test_paired_runs import _eval_folder

    a = _eval_folder(tmp_path / "a", [True, False])
    b = _eval_folder(tmp_path / "b", [True, True])
    config = yaml.safe_load((b / "config.yaml").read_text())
    config["model"]["dtype"] = "bfloat16"
    (b / "config.yaml").write_text(yaml.safe_dump(config))
    assert read_eval(a).precision is None and precision_change(read_eval(a), read_eval(b)) is None
    assert compare_evals(read_eval(a), read_eval(b)).n == 2
