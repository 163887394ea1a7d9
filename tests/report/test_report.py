"""The report of a finished run: files, escaping of data, plots, and the page in a real browser."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config import RunConfig
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline import run_pipeline
from lorabench.report import browser
from lorabench.report.write import write_report

ATTACK = "<script>alert('pwned')</script>"


@pytest.fixture(scope="module")
def finished_run(tiny_causal_path, tmp_path_factory) -> Path:
    """A tiny `lorabench run` whose every question carries a script tag (the data is hostile)."""
    root = tmp_path_factory.mktemp("report_run")
    records = [r.model_copy(update={"question": f"{r.question} {ATTACK}"}) for r in synthesize("extractive", 30, seed=5)]
    data = save_records(records, root / "qa.jsonl")
    config = RunConfig.model_validate({
        "model": str(tiny_causal_path), "task": "extractive",
        "data": {"source": str(data), "split": {"test": 8, "validation": 4, "seed": 0}},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "training": {"epochs": 2, "batch_size": 4, "lr": 5e-3, "val_metric_items": 2, "logging_steps": 1},
        "decoding": {"max_new_tokens": 4, "batch_size": 4},
        "metrics": {"bootstrap_resamples": 200},
        "out": str(root / "run"),
    })
    run_pipeline(config, say=lambda _: None)
    return root / "run"


def test_every_run_writes_its_report(finished_run):
    for name in ("report.html", "report.md", "tables/items.csv", "tables/error_categories.csv",
                 "plots/metrics.png", "plots/loss.png", "plots/validation.png", "plots/errors.png"):
        assert (finished_run / name).stat().st_size > 0, name
    items = list(csv.DictReader((finished_run / "tables" / "items.csv").open()))
    test_ids = [json.loads(line)["id"] for line in (finished_run / "data" / "test.jsonl").read_text().splitlines()]
    assert [row["id"] for row in items] == test_ids
    assert {row["change"] for row in items} <= {"improved", "regressed", "still_wrong", "still_right"}
    assert "exact_match" in (finished_run / "report.md").read_text()


def test_data_from_questions_is_escaped_everywhere(finished_run):
    html = (finished_run / "report.html").read_text()
    assert ATTACK not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert html.count("<script>") == 1  # the report's own filter script, nothing from the data
    markdown = (finished_run / "report.md").read_text()
    assert ATTACK not in markdown and "&lt;script&gt;" in markdown


def test_report_shows_verdicts_detectable_difference_and_guards(finished_run):
    html = (finished_run / "report.html").read_text()
    summary = json.loads((finished_run / "summary.json").read_text())
    em = next(c for c in summary["comparison"] if c["metric"] == "exact_match")
    n = summary["sizes"]["test"]
    assert em["min_detectable"] is not None and em["min_detectable"] >= 6 / n - 1e-9  # 6 changed items is the floor
    assert f"with {n} items this test detects only changes of about {100 * em['min_detectable']:.1f} points" in html \
        or em["verdict"] != "no significant difference"
    for guard in summary["guards"]:
        assert guard["name"] in html
    assert "Cost per question" in html and "PromptTok_API" in html
    assert html.count("data:image/png;base64,") == 4


def test_report_command_rebuilds_the_same_report(finished_run):
    before = (finished_run / "report.md").read_text()
    (finished_run / "report.md").unlink()
    result = CliRunner().invoke(app, ["report", str(finished_run)])
    assert result.exit_code == 0, result.output
    assert (finished_run / "report.md").read_text() == before


def test_report_of_an_unfinished_run_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no summary.json" in result.output


def test_report_loads_in_a_browser_with_images_and_no_errors(chromium, finished_run):
    files = write_report(finished_run)
    check = browser.check_page(files.html, finished_run / "report.png", timeout_s=30)
    assert check.console_errors == [] and check.failed_requests == []
    assert check.images_total == 4 and check.images_broken == 0
    assert check.title.startswith("lorabench report")
    assert (finished_run / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
