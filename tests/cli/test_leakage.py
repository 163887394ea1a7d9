"""`lorabench leakage`: exit code 0 for clean data, 1 for leakage."""

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_synth_then_leakage_clean_and_leaky(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert runner.invoke(app, ["synth", "--task", "math", "-n", "20", "--seed", "1", "--out", str(a)]).exit_code == 0
    assert runner.invoke(app, ["synth", "--task", "math", "-n", "20", "--seed", "2", "--out", str(b)]).exit_code == 0
    clean = runner.invoke(app, ["leakage", str(a), str(b), "--task", "math"])
    assert clean.exit_code == 0, clean.output
    leaky = runner.invoke(app, ["leakage", str(a), str(a), "--task", "math"])
    assert leaky.exit_code == 1
    assert "identical" in leaky.output
