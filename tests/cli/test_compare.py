"""`lorabench compare`: its options' mistakes are named by the option, before any folder is read."""

from __future__ import annotations

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_a_bad_correction_or_alpha_names_its_option(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    wrong = runner.invoke(app, ["compare", str(a), str(b), "--correction", "bonferroni"])
    assert wrong.exit_code == 2 and "--correction: 'bonferroni' is not one of none, holm" in wrong.output
    wrong = runner.invoke(app, ["compare", str(a), str(b), "--alpha", "1.5"])
    assert wrong.exit_code == 2 and "--alpha: 1.5 is not a significance level" in wrong.output
    assert "Traceback" not in wrong.output
