"""`lorabench study`: a bad --executor is named before the config is read, with or without --plan."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.cli.common import as_flags, command_flags
from lorabench.cli.study import study
from lorabench.core.errors import LorabenchError
from lorabench.studies.ray_executor import _import_ray

runner = CliRunner()


def test_a_bad_executor_is_named_before_the_config_is_read(tmp_path):
    for extra in ([], ["--plan"]):
        result = runner.invoke(app, ["study", str(tmp_path / "missing.yaml"), "--executor", "dask", *extra])
        assert result.exit_code == 2 and "Traceback" not in result.output
        assert "--executor: 'dask' is not an executor; use local or ray" in result.output


def test_without_ray_the_library_names_the_setting_and_study_its_option(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where Ray is not installed
    with pytest.raises(LorabenchError) as raised:
        _import_ray()
    assert str(raised.value) == "executor=ray: Ray is not installed; pip install 'lorabench[ray]'"
    said = as_flags(raised.value, command_flags(study))
    assert said == "--executor ray: Ray is not installed; pip install 'lorabench[ray]'"
