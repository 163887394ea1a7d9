"""`lorabench run --dry-run`: the checks of `run`, the plan, and nothing written."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.cli.common import FLAGS, as_flags
from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.dry_run import plan_run
from lorabench.models.load import load_tokenizer
from lorabench.pipeline.run import run_pipeline, split_data
from lorabench.prompts.build import build_prompt, fit_to_model
from lorabench.training.arguments import total_steps
from tests.pipeline.test_run import _config


def _raw(model_path, data_path, out, **lora):
    """test_pipeline's run config as the YAML a user writes (2 epochs, so the step count is not 1 epoch's)."""
    raw = _config(model_path, data_path, out).model_dump(mode="json")
    raw["training"]["epochs"] = 2
    raw["lora"].update(lora)
    return raw


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


def _write(tmp_path, raw):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_causal_path, qa_file, tmp_path):
    out = tmp_path / "runs" / "x"
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, _raw(tiny_causal_path, qa_file, out))), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not out.exists() and not (tmp_path / "runs").exists()
    text = result.output
    config = RunConfig.model_validate(_raw(tiny_causal_path, qa_file, out))
    splits = split_data(config, lambda _: None)
    assert f"data: {len(splits.train)} train, {len(splits.validation)} validation" in text
    assert f"{len(splits.test)} test items" in text
    steps = total_steps(len(splits.train), config.training, 1)
    assert f"training: {steps} optimizer steps (2 epoch(s), batch 4" in text
    assert "base evaluation: to run" in text and "tuned evaluation: to run" in text
    # The two prompts shown are the ones training and evaluation will use, token for token.
    tokenizer = load_tokenizer(config.model)
    settings = fit_to_model(splits.prompt, tokenizer, 4)
    first_test = build_prompt(splits.test[0], tokenizer.tokenizer, settings)
    assert first_test.text in text and f"({first_test.record_id}, {first_test.n_tokens} tokens)" in text


def test_dry_run_refuses_what_run_refuses_before_writing(tiny_causal_path, qa_file, tmp_path):
    out = tmp_path / "run"
    raw = _raw(tiny_causal_path, qa_file, out, target_modules=["no_such_proj"])
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, raw)), "--dry-run"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no_such_proj" in result.output and not out.exists()


def test_dry_run_says_which_stages_a_rerun_would_reuse(tiny_causal_path, qa_file, tmp_path):
    raw = _raw(tiny_causal_path, qa_file, tmp_path / "run")
    config = RunConfig.model_validate(raw)
    run_pipeline(config, say=lambda _: None)
    plan = plan_run(config, lambda _: None)
    # `lorabench run` words the setting as its option; the library names the setting itself
    assert {as_flags(state, FLAGS) for state in plan.stages.values()} == {"finished (reused unless --force)"}
    assert set(plan.stages.values()) == {"finished (reused unless force=True)"}
    said = CliRunner().invoke(app, ["run", str(_write(tmp_path, raw)), "--dry-run"])
    assert said.exit_code == 0 and "training: finished (reused unless --force)" in said.output, said.output


def test_dry_run_checks_and_lists_the_retention_tasks(tiny_causal_path, qa_file, tmp_path):
    from pathlib import Path

    task = Path(__file__).resolve().parents[2] / "examples" / "retention" / "arithmetic_mc.yaml"
    raw = {**_raw(tiny_causal_path, qa_file, tmp_path / "run"), "retention": {"tasks": [str(task)]}}
    result = CliRunner().invoke(app, ["run", str(_write(tmp_path, raw)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"retention (lm-eval, base and tuned): {task}" in result.output.replace("\n", "")
