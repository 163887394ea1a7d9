"""`lorabench study`: a bad --executor is named before the config is read, with or without --plan."""

from __future__ import annotations

from typer.testing import CliRunner

from lorabench.cli import app

runner = CliRunner()


def test_a_bad_executor_is_named_before_the_config_is_read(tmp_path):
    for extra in ([], ["--plan"]):
        result = runner.invoke(app, ["study", str(tmp_path / "missing.yaml"), "--executor", "dask", *extra])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "--executor: 'dask' is not an executor; use local or ray" in result.output
