"""`lorabench report`: a folder that is no finished run is one line and exit code 2."""

from __future__ import annotations

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_a_folder_without_summary_is_refused_in_one_line(tmp_path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no summary.json; not a finished `lorabench run` folder" in " ".join(result.output.split())
    assert not (tmp_path / "report.html").exists()
