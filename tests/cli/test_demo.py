"""`lorabench demo`: the demo's lines around the run's tables, read from what the run found.

The demo's own model (SmolLM2) takes minutes on a CPU: here the demo config keeps its generated
data and folder layout but runs the tiny test model (the demo's model is `make demo`'s to run)."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

import lorabench.api as api
from lorabench.cli import app
from lorabench.config.run import RunConfig
from tests.run_configs import tiny_run


def test_demo_prints_its_model_the_exact_match_change_and_the_folder(tiny_causal_path, tmp_path, monkeypatch):
    demo_config = api.demo_config

    def on_the_tiny_model(out):  # noqa: ANN001, ANN202
        data = demo_config(out).data.source.path  # the demo's own synthetic data, written into `out`
        return RunConfig.model_validate(tiny_run(tiny_causal_path, data, out / "run", training={"lr": 5e-3}))

    monkeypatch.setattr(api, "demo_config", on_the_tiny_model)
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    out = result.output.replace("\n", "")  # the console wraps at its own width
    assert out.startswith(f"demo: {tiny_causal_path}, LoRA on synthetic extractive QA (fictional world), CPU")
    em = next(c for c in json.loads((tmp_path / "demo" / "run" / "summary.json").read_text())["comparison"]
              if c["metric"] == "exact_match")
    line = (f"exact match: base {100 * em['base']:.1f}% -> tuned {100 * em['tuned']:.1f}% ({em['improved']} items "
            f"improved, {em['regressed']} regressed; McNemar exact p = {em['p_value']:.2g}): {em['verdict']}")
    assert line in out
    assert out.index("base vs tuned on") < out.index(line) < out.index(f"run folder: {(tmp_path / 'demo' / 'run').resolve()}")
    assert re.search(r"report: \S*report\.html", out)
