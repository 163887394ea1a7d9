"""The report of a finished run: files, escaping of data, plots, and the page in a real browser."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.config.run import RunConfig, load_config
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.pipeline.run import run_pipeline
from lorabench.report import browser
from lorabench.cli.live import run_live
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
        # Golds of one token are "short": some test items are, some are not, so the subset is a real one.
        "metrics": {"bootstrap_resamples": 200, "short_thresh": 1},
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


def test_report_shows_the_short_answer_subset(finished_run):
    summary = json.loads((finished_run / "summary.json").read_text())
    short = summary["base"]["short"]
    html = (finished_run / "report.html").read_text()
    markdown = (finished_run / "report.md").read_text()
    assert 0 < short["n"] < summary["sizes"]["test"]
    title = f"Short answers: gold of at most 1 tokens ({short['n']} of {summary['sizes']['test']} items)"
    assert title in html and f"### {title}" in markdown
    table = markdown.split(f"### {title}")[1].split("\n\n")[1].splitlines()
    assert [line.split(" | ")[0].lstrip("| ") for line in table[2:]] == [c["metric"] for c in summary["comparison"]]
    em = f"{100 * short['exact_match']:.1f} [{100 * short['ci95']['exact_match'][0]:.1f}, {100 * short['ci95']['exact_match'][1]:.1f}]"
    assert table[2].startswith(f"| exact_match | {em} |")
    assert f"exact_match on short answers ({short['n']} items)" in html


def test_markdown_report_escapes_for_markdown(finished_run):
    markdown = (finished_run / "report.md").read_text()
    assert "-&gt;" not in markdown and "% -> tuned " in markdown
    assert "&lt;script&gt;alert('pwned')&lt;/script&gt;" in markdown  # no HTML entity for the quote: not HTML-escaped


def test_report_items_wrap_between_words_in_a_browser(chromium, finished_run):
    html = finished_run / "report.html"
    for width in (1280, 800):
        check = browser.check_page(html, width=width, timeout_s=30, words_in="table.items td")
        assert check.split_words == [], (width, check.split_words)


@pytest.fixture(scope="module")
def choice_run(tiny_causal_path, tmp_path_factory) -> Path:
    """A multiple-choice run scored by log-probability: nothing is generated."""
    root = tmp_path_factory.mktemp("choice_run")
    data = save_records(synthesize("choice", 24, seed=3), root / "mc.jsonl")
    config = RunConfig.model_validate({
        "model": str(tiny_causal_path), "task": "choice",
        "data": {"source": str(data), "split": {"test": 8, "validation": 0, "seed": 0}},
        "lora": {"r": 2, "alpha": 4, "target_modules": ["q_proj", "v_proj"]},
        "training": {"epochs": 1, "batch_size": 4, "lr": 5e-3, "val_metric_items": 0, "logging_steps": 1},
        "decoding": {"choice_mode": "logprob"},
        # Golds of one token are "short": some test items are, some are not, so the subset is a real one.
        "metrics": {"bootstrap_resamples": 200, "short_thresh": 1},
        "out": str(root / "run"),
    })
    run_pipeline(config, say=lambda _: None)
    return root / "run"


def test_choice_report_shows_only_what_scoring_options_involves(choice_run):
    html = (choice_run / "report.html").read_text()
    markdown = (choice_run / "report.md").read_text()
    for text in (html, markdown):
        assert "answers_cut" not in text and "eos_learned" not in text and "max_new_tokens" not in text
        assert "GenTok" not in text and "ParseFail" not in text
        assert "Short answers" not in text  # choice has no short-answer subset
        assert "choice_normalization" in text and "format_mismatch" in text
    categories = list(csv.DictReader((choice_run / "tables" / "error_categories.csv").open()))
    assert [row["category"] for row in categories] == ["wrong"]  # a scored choice is never empty, cut or unparsed


def _live_rerun(run_dir: Path) -> tuple[str, str]:
    """`lorabench run` again on a finished folder: every stage is reused; (console text, bar text)."""
    console, bar_console = Console(record=True, width=200), Console(record=True, width=200)
    run_live(load_config(run_dir / "config.yaml"), console, bar_console)
    return console.export_text(), bar_console.export_text()


def test_run_console_shows_the_short_subset_below_the_table_and_reused_stages(finished_run):
    summary = json.loads((finished_run / "summary.json").read_text())
    text, bars = _live_rerun(finished_run)
    n, short_n = summary["sizes"]["test"], summary["base"]["short"]["n"]
    main = text.index(f"base vs tuned on {n} items (%, 95% CI; paired tests)")
    short = text.index(f"short answers (gold <= 1 tokens): base vs tuned on {short_n} items")
    assert main < short < text.index("evaluation prompts equal training prompts")
    short_table = text[short:].split("\n\n")[0]
    em = summary["base"]["short"]
    assert f"{100 * em['exact_match']:.1f} [{100 * em['ci95']['exact_match'][0]:.1f},{100 * em['ci95']['exact_match'][1]:.1f}]" in short_table
    assert "answers that hit max_new_tokens=4" in text  # generated answers keep their generation guards
    for stage in ("eval base", "eval tuned"):
        assert any(line.startswith(stage) and re.search(rf"{n}/{n} reused( \(<?\d+ s\))?$", line.rstrip()) for line in bars.splitlines()), bars


def test_choice_run_console_has_no_generation_guards(choice_run):
    text, _ = _live_rerun(choice_run)
    assert "evaluation prompts equal training prompts" in text
    assert "max_new_tokens" not in text and "stops on its own" not in text and "short answers" not in text


def test_a_short_subset_that_is_the_whole_test_set_is_not_shown_twice(finished_run, tmp_path):
    import shutil

    import yaml

    from lorabench.report.write import write_report

    run = shutil.copytree(finished_run, tmp_path / "run")
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["metrics"]["short_thresh"] = 50  # every gold is short now
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    write_report(run)
    markdown = (run / "report.md").read_text()
    n = json.loads((run / "summary.json").read_text())["sizes"]["test"]
    assert f"Short answers: gold of at most 50 tokens ({n} of {n} items)" in markdown
    assert "the subset is the whole test set" in markdown
    assert markdown.count("| exact_match |") == 1 and "on short answers" not in markdown


def test_the_short_subset_comparison_is_computed_once_and_read_back(finished_run, tmp_path, monkeypatch):
    import shutil

    from lorabench.comparison.paired import short_subset
    from lorabench.core.kinds import get_task
    from lorabench.comparison.paired_runs import read_eval
    from lorabench.report import collect
    from lorabench.report.write import write_report

    summary = json.loads((finished_run / "summary.json").read_text())
    base, tuned = read_eval(finished_run / "base"), read_eval(finished_run / "tuned")
    expected = short_subset(get_task("extractive"), base.rows, tuned.rows, 1, 0.05, 200)
    assert summary["short_comparison"] == expected.to_dict()
    # Rewriting the report reads the stored comparison instead of testing again.
    run = shutil.copytree(finished_run, tmp_path / "run")
    monkeypatch.setattr(collect, "short_subset", lambda *a, **k: pytest.fail("short subset computed again"))
    write_report(run)
    assert "on short answers" in (run / "report.md").read_text()
    # A summary from before it was stored: the report computes it, as it always did.
    del summary["short_comparison"]
    (run / "summary.json").write_text(json.dumps(summary))
    monkeypatch.setattr(collect, "short_subset", short_subset)
    write_report(run)
    assert "on short answers" in (run / "report.md").read_text()
