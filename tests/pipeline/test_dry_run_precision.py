"""`lorabench run --dry-run` says which precision runs and, on a CPU, what bfloat16 would buy there."""

from __future__ import annotations

from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.models.precision import detect_cpu_precision
from tests.pipeline.test_dry_run import _raw, _write, qa_file  # noqa: F401 - qa_file is a fixture


def test_dry_run_names_the_precision_and_the_measured_alternative(tiny_causal_path, qa_file, tmp_path):  # noqa: F811
    raw = _raw(tiny_causal_path, qa_file, tmp_path / "out")
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, raw)), "--dry-run"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "precision: float32 (model.dtype auto on cpu)" in text  # auto stays float32 on a CPU: the demo's table holds
    assert detect_cpu_precision().describe() in text
    assert "a 512x576x1536 matmul (training, prompts) ran at" in text and "in bfloat16 here" in text
    assert "a 16x576x1536 matmul (decoding 16 answers) ran at" in text


def test_dry_run_of_a_bfloat16_config(tiny_causal_path, qa_file, tmp_path):  # noqa: F811
    raw = _raw(tiny_causal_path, qa_file, tmp_path / "out")
    raw["model"]["dtype"] = "bfloat16"
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, raw)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "precision: bfloat16\n" in result.output
