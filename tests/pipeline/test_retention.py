"""The retention stage of `run`: lm-eval tasks on base and tuned, in lm-eval's layout, compared paired."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lm_eval_runs import GEN_TASK, MC_TASK
from lorabench.cli import app
from lorabench.config.run import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.comparison.lm_eval_files import read_lm_eval
from lorabench.pipeline.retention import _task_identity, plan_retention
from lorabench.config.settings import ModelSpec, RetentionSettings
from tests.run_configs import tiny_run

runner = CliRunner()


def _config(model: Path, data: Path, out: Path, tasks: list[Path]) -> dict:
    training = {"lr": 5e-3, "val_metric_items": 0}
    return tiny_run(model, data, out, test=6, validation=2, training=training, retention=[str(t) for t in tasks])


@pytest.fixture(scope="module")
def retention_run(tiny_causal_path, lm_eval_pair, tmp_path_factory):
    root = tmp_path_factory.mktemp("retention")
    data = save_records(synthesize("extractive", 24, seed=3), root / "qa.jsonl")
    config = root / "run.yaml"
    config.write_text(yaml.safe_dump(_config(tiny_causal_path, data, root / "run", lm_eval_pair.tasks)))
    first = runner.invoke(app, ["run", str(config)], env={"COLUMNS": "400"})
    again = runner.invoke(app, ["run", str(config)], env={"COLUMNS": "400"})
    return root / "run", first, again


def test_both_sides_are_in_lm_evals_own_layout(retention_run, lm_eval_pair):
    out, first, _ = retention_run
    assert first.exit_code == 0, first.output
    for which in ("base", "tuned"):
        run = read_lm_eval(out / "retention" / which)
        assert set(run.tasks) == {MC_TASK, GEN_TASK}
        assert run.results is not None and run.results.parent.parent == out / "retention" / which
    assert "+ peft" in read_lm_eval(out / "retention" / "tuned").model
    # the same files, line for line in shape, as lm-eval's CLI writes with --log_samples
    (ours,) = (out / "retention" / "base").glob(f"*/samples_{MC_TASK}_*.jsonl")
    (cli,) = lm_eval_pair.base.glob(f"*/samples_{MC_TASK}_*.jsonl")
    assert json.loads(ours.read_text().splitlines()[0]).keys() == json.loads(cli.read_text().splitlines()[0]).keys()
    # base through lm-eval is the same model as the CLI run on the same tasks: the same answers
    assert read_lm_eval(out / "retention" / "base").tasks[MC_TASK].scores == read_lm_eval(lm_eval_pair.base).tasks[MC_TASK].scores


def test_summary_console_and_report_carry_the_verdicts(retention_run):
    out, first, _ = retention_run
    summary = json.loads((out / "summary.json").read_text())
    entries = {c["metric"]: c for c in summary["retention"]["comparison"]}
    assert set(entries) == {f"{MC_TASK}/acc", f"{MC_TASK}/acc_norm", f"{GEN_TASK}/exact_match"}
    assert summary["retention"]["items"] == {GEN_TASK: 8, MC_TASK: 24}
    assert "retention_seconds" in summary["timings"] and set(summary["retention"]["work_seconds"]) == {"base", "tuned"}
    assert "Did the fine-tune hurt general ability?" in first.output
    assert f"{MC_TASK}/acc: " in first.output
    for report in ("report.html", "report.md"):
        text = (out / report).read_text()
        assert "Did the fine-tune hurt general ability?" in text and f"{GEN_TASK}/exact" in text
    assert "retention" in yaml.safe_load((out / "config.yaml").read_text())
    # every evaluation folder also speaks lm-eval's results layout
    results = json.loads((out / "base" / "lm_eval_results.json").read_text())
    assert "exact_match,none" in results["results"]["lorabench_extractive"]


def test_a_rerun_reuses_both_sides(retention_run):
    out, first, again = retention_run
    assert again.exit_code == 0, again.output
    assert "retention base: lm-eval results for these settings exist, reusing them" in again.output
    assert "retention tuned: lm-eval results for these settings exist, reusing them" in again.output
    assert len(list((out / "retention" / "base").glob("*/results_*.json"))) == 1


def test_a_config_without_retention_saves_no_retention_key(tmp_path):
    config = RunConfig.model_validate({"model": "m", "task": "extractive", "data": {"source": "x.jsonl"}})
    assert "retention" not in config.to_yaml()
    listed = RunConfig.model_validate({"model": "m", "task": "extractive", "data": {"source": "x.jsonl"}, "retention": []})
    assert listed.to_yaml() == config.to_yaml()


def test_lm_eval_not_installed_is_one_line_naming_the_extra(monkeypatch, lm_eval_pair):
    import lorabench.pipeline.retention

    monkeypatch.setattr(lorabench.pipeline.retention.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LorabenchError, match=r"pip install 'lorabench\[lm-eval\]'"):
        plan_retention(RetentionSettings(tasks=[str(lm_eval_pair.tasks[0])]), ModelSpec(name="m"))


def test_a_changed_task_data_file_changes_its_identity(tmp_path):
    from lm_eval_runs import write_tasks

    mc, _ = write_tasks(tmp_path)
    before = _task_identity(str(mc))
    (tmp_path / "choice.jsonl").write_text((tmp_path / "choice.jsonl").read_text().replace('"7"', '"8"'))
    assert _task_identity(str(mc)) != before
    assert _task_identity("arc_easy") == "arc_easy"


def test_the_report_escapes_task_names_and_states_the_tradeoff(retention_run, tmp_path):
    import shutil

    from lorabench.comparison.paired import compare_metric
    from lorabench.report.write import write_report

    out = tmp_path / "run"
    shutil.copytree(retention_run[0], out)
    summary = json.loads((out / "summary.json").read_text())
    hostile = compare_metric("<script>x</script>/acc", [1.0] * 12, [0.0] * 12, binary=True)
    summary["retention"]["comparison"] = [hostile.to_dict()]
    summary["comparison"][0] = compare_metric("exact_match", [0.0] * 12, [1.0] * 12).to_dict()
    (out / "summary.json").write_text(json.dumps(summary))
    files = write_report(out)
    html, markdown = files.html.read_text(), files.markdown.read_text()
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;/acc" in html
    assert "<script>" not in markdown
    assert "came with a significant loss elsewhere" in html and "trade-off" in markdown


def test_the_example_config_and_its_local_task_run(tiny_causal_path, tmp_path, monkeypatch):
    from lm_eval_runs import library_run
    from lorabench.config.run import load_config

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # the example's paths are relative to the repository root, where users run it
    config = load_config(Path("examples/retention.yaml"))
    assert config.retention.tasks == ["examples/retention/arithmetic_mc.yaml"]
    run = read_lm_eval(library_run(tiny_causal_path, [Path(t) for t in config.retention.tasks], tmp_path / "out"))
    assert len(run.tasks["arithmetic_mc"].scores["acc"]) == 100


def test_an_unknown_task_name_is_refused_before_anything_runs(monkeypatch, lm_eval_pair):
    import lm_eval.tasks

    class Registry:  # lm-eval's own index of its ~15,000 task files takes seconds to build
        def __init__(self, include_defaults: bool) -> None:
            self.all_tasks = ["arc_easy"] if include_defaults else []

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", Registry)
    settings = RetentionSettings(tasks=["arc_easy", "arc_eazy", str(lm_eval_pair.tasks[0])])
    with pytest.raises(LorabenchError, match=r"retention.tasks: arc_eazy: not an lm-eval task, group or tag"):
        plan_retention(settings, ModelSpec(name="m"))
    assert plan_retention(RetentionSettings(tasks=["arc_easy"]), ModelSpec(name="m")).tasks == ["arc_easy"]
