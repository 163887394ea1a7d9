"""`lorabench run` with a judge: section, end to end on tiny models: both passes judged, the judged
table, preference and guards printed, summary.json, report.html/.md, the headline rule, a rerun
that costs the judge nothing."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import tiny_models
from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from tests.judging.judge_server import JudgeServer
from tests.run_configs import tiny_run

pytestmark = pytest.mark.xdist_group("tiny_judge")


@pytest.fixture(scope="module")
def judged_run(tiny_causal_path, tmp_path_factory):
    """A finished open-answer run judged by a tiny random-weight judge, with judge_correct asked for."""
    folder = tmp_path_factory.mktemp("judged_run")
    judge_model = tiny_models.build_tiny_causal(folder / "judge_model", max_positions=4096)
    data = save_records(synthesize("open", 24, seed=5), folder / "open.jsonl")
    config = tiny_run(
        tiny_causal_path, data, folder / "run", task="open", test=4, validation=2,
        judge={"model": str(judge_model), "device": "cpu", "max_new_tokens": 6, "cache": str(folder / "cache.jsonl")},
        training={"val_metric_items": 0},
    )
    config["metrics"]["primary"] = "judge_correct"
    config_file = folder / "run.yaml"
    config_file.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(app, ["run", str(config_file)])
    assert result.exit_code == 0, result.output
    return folder / "run", config_file, " ".join(result.output.split())


def test_the_run_prints_the_judged_table_the_sign_test_and_the_guards(judged_run):
    _, _, output = judged_run
    assert "judged by" in output and "judge_correct" in output and "judge_attempted" in output
    # A tiny model barely moves in one epoch: its answers stay the same, so no preference is asked
    # (both orders of two identical answers would only measure the position); each item is a tie.
    assert "0 wins, 0 losses, 4 ties, 4 with identical answers; exact sign test p = 1" in output
    assert "NOT TRUSTWORTHY on this data" in output and "judge outputs had no readable verdict" in output
    # judge_correct was asked for, but a judge that fails its gold check is never the headline.
    assert ("metrics.primary is judge_correct, but the judge is not trustworthy on this data "
            "(NOT TRUSTWORTHY on this data: the judge calls only 0 of 4 gold answers correct") in output
    assert "the verdict is rouge_l_acc's" in output
    assert "verdict: " in output and "on rouge_l_acc, the task's primary metric" in output


def test_the_console_counts_the_judged_metrics_among_those_tested(judged_run):
    # summary.json's verdict counts the two judged metrics; the console's multiplicity line says the same.
    run, _, output = judged_run
    assert json.loads((run / "summary.json").read_text())["verdict"]["metrics_tested"] == 8
    assert "the other 7 are secondary" in output and "8 metrics tested at alpha 0.05" in output


def test_a_trusted_judge_leads_the_console_verdict(tiny_causal_path, tmp_path):
    """metrics.primary: judge_correct, graded by a judge that passes its gold check (a real HTTP judge
    on 127.0.0.1): the console's verdict line names it and counts every metric tested."""
    data = save_records(synthesize("open", 24, seed=5), tmp_path / "open.jsonl")
    with JudgeServer() as server:
        config = tiny_run(
            tiny_causal_path, data, tmp_path / "run", task="open", test=4, validation=2,
            judge={"model": "judge-model", "endpoint": server.url, "cache": str(tmp_path / "cache.jsonl")},
            training={"val_metric_items": 0},
        )
        config["metrics"]["primary"] = "judge_correct"
        (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
        result = CliRunner().invoke(app, ["run", str(tmp_path / "run.yaml")])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    verdict = json.loads((tmp_path / "run" / "summary.json").read_text())["verdict"]
    assert verdict["primary_metric"] == "judge_correct" and verdict["metrics_tested"] == 8
    assert (f"verdict: {verdict['verdict']} on judge_correct, metrics.primary, graded by the judge; "
            "the other 7 are secondary") in output
    assert "8 metrics tested at alpha 0.05" in output


def test_summary_judgments_and_report(judged_run):
    run, _, _ = judged_run
    summary = json.loads((run / "summary.json").read_text())
    verdict = summary["verdict"]
    assert verdict["primary_metric"] == "rouge_l_acc" and verdict["requested_primary"] == "judge_correct"
    assert "not trustworthy" in verdict["note"] and verdict["metrics_tested"] == 8
    judge = summary["judge"]
    assert judge["trustworthy"] is False and judge["n"] == 4 and judge["sides"] == ["base", "tuned"]
    assert [(c["metric"], c["role"]) for c in judge["comparison"]] == [("judge_correct", "secondary"), ("judge_attempted", "secondary")]
    assert judge["unparseable"] == sum(1 for _ in (run / "judge" / "judgments.jsonl").open())
    assert (run / "judge" / "judge_correctness_rubric.j2").is_file()
    html = (run / "report.html").read_text()
    assert 'id="judge"' in html and "judge not trusted" in html and "Judged items (4)" in html
    markdown = (run / "report.md").read_text()
    assert "## What the judge says (" in markdown and "| judge_correct | 0.0 | 0.0 | 0.0 | +0.0 (+0/-0) | 1 |" in markdown


def test_a_rerun_reuses_every_stage_and_every_judgment(judged_run):
    run, config_file, _ = judged_run
    before = json.loads((run / "summary.json").read_text())["judge"]
    again = CliRunner().invoke(app, ["run", str(config_file)])
    assert again.exit_code == 0, again.output
    output = " ".join(again.output.split())
    assert "judge: 8 judgment(s), 8 from the cache, 0 to make" in output
    after = json.loads((run / "summary.json").read_text())["judge"]
    assert after["cost"]["fresh"] == 0 and before["cost"]["fresh"] == 8
    assert after["rates"] == before["rates"] and after["comparison"] == before["comparison"]
