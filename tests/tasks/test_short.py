"""The `short` kind (closed-book short answers with aliases), end to end through its one module."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.loaders import load_records
from lorabench.data.spec import DataSpec
from lorabench.data.synth import synthesize
from lorabench.core.errors import DataError
from lorabench.comparison.items import error_category
from lorabench.core.kinds import get_task
from lorabench.metrics.scoring import ScoreInput, score_item
from lorabench.prompts.answers import answer_from_generation
from lorabench.prompts.build import PromptSettings, target_text, user_message
from lorabench.tasks import TaskKind
from lorabench.tasks.short import ShortRecord
from tests.run_configs import tiny_run

runner = CliRunner()


def test_metrics_take_the_best_alias() -> None:
    golds = ["Valbel Goressow", "Goressow"]
    assert score_item("short", ScoreInput(prediction="Goressow.", golds=golds)) == {
        "exact_match": 1.0, "f1": 1.0, "lenient_match": 1.0,
    }
    partial = score_item("short", ScoreInput(prediction="Valbel", golds=golds))
    assert partial["exact_match"] == 0.0 and partial["f1"] == pytest.approx(2 / 3)
    verbose = score_item("short", ScoreInput(prediction="It was Valbel Goressow, of course", golds=golds))
    assert verbose["exact_match"] == 0.0 and verbose["lenient_match"] == 1.0


def test_loader_reads_aliases_in_common_shapes(tmp_path: Path) -> None:
    path = tmp_path / "trivia.jsonl"
    rows = [
        {"question": "Who wrote it?", "answer": ["Tarquin Oslet", "Oslet"]},
        {"query": "When?", "answers": {"text": ["1842"]}},
        {"question": "Where?", "aliases": "Velmora"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = load_records(DataSpec(path=path, task="short")).records
    assert [r.answers for r in records] == [["Tarquin Oslet", "Oslet"], ["1842"], ["Velmora"]]
    assert all(isinstance(r, ShortRecord) and r.task is TaskKind.short for r in records)


def test_a_row_without_answers_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "Who?", "answers": "x"}) + "\n" + json.dumps({"question": "Why?", "answers": []}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: field 'answers'"):
        load_records(DataSpec(path=path, task="short"))


def test_prompt_has_no_context_and_the_target_is_the_first_alias() -> None:
    record = ShortRecord(id="q", question="Which river runs past Velmora?", answers=["the Oswenin", "Oswenin"])
    message = user_message(record, PromptSettings())
    assert message.startswith("Answer the question with a short answer") and "Context:" not in message
    assert message.endswith("Question: Which river runs past Velmora?")
    assert target_text(record) == "the Oswenin"
    assert answer_from_generation(get_task("short"), " Oswenin\nQuestion: next") == "Oswenin"


def test_error_categories() -> None:
    row = {"gold": ["Valbel Goressow"], "scores": {"exact_match": 0.0}, "prediction": ""}
    assert error_category("short", row) == "empty"
    assert error_category("short", {**row, "prediction": "I think it was Valbel Goressow"}) == "verbose"
    assert error_category("short", {**row, "prediction": "Valbel"}) == "partial"
    assert error_category("short", {**row, "prediction": "Tarquin Oslet"}) == "wrong"


def test_synthetic_data_is_deterministic_and_valid() -> None:
    first, again = synthesize("short", 20, seed=3), synthesize("short", 20, seed=3)
    assert first == again and len({r.id for r in first}) == 20
    for record in first:
        assert record.answers[0] in record.question  # the clue is in the question (see tasks/short.py)


def test_score_command(tmp_path: Path) -> None:
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [
        {"gold": ["Velmora", "the town of Velmora"], "prediction": "the town of Velmora"},
        {"gold": "1842", "prediction": "1843"},
    ]))
    result = runner.invoke(app, ["score", str(path), "--task", "short", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["task"] == "short" and payload["n"] == 2 and payload["exact_match"] == 0.5
    assert "short" not in payload  # no short-answer subset: every answer of this kind is short


def _config(model: Path, data: Path, out: Path, val_metric_items: int) -> str:
    """A run config for the tiny model on short answers (a study adds its `sweep:`)."""
    config = tiny_run(model, data, out, task="short", target_modules=None, training={"val_metric_items": val_metric_items})
    return yaml.safe_dump(config, sort_keys=False)


@pytest.fixture(scope="module")
def short_run(tiny_causal_path, tmp_path_factory) -> Path:
    """`lorabench run` on synthetic short answers with a tiny model, through the CLI."""
    root = tmp_path_factory.mktemp("short_run")
    result = runner.invoke(app, ["synth", "--task", "short", "-n", "24", "--seed", "1", "--out", str(root / "short.jsonl")])
    assert result.exit_code == 0, result.output
    config = root / "run.yaml"
    config.write_text(_config(tiny_causal_path, root / "short.jsonl", root / "run", val_metric_items=2))
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output
    return root / "run"


def test_run_writes_summary_and_report(short_run: Path) -> None:
    summary = json.loads((short_run / "summary.json").read_text())
    assert summary["task"] == "short" and summary["sizes"]["test"] == 8
    assert [c["metric"] for c in summary["comparison"]] == ["exact_match", "f1", "lenient_match"]
    report = (short_run / "report.md").read_text()
    assert "exact_match" in report and "Short answers" not in report  # every answer here is short already
    assert (short_run / "report.html").stat().st_size > 0


def test_eval_and_compare_on_the_run(short_run: Path, tiny_causal_path, tmp_path: Path) -> None:
    test = short_run / "data" / "test.jsonl"
    result = runner.invoke(app, ["eval", "-m", str(tiny_causal_path), "-d", str(test), "-t", "short",
                                 "--max-new-tokens", "4", "--out", str(tmp_path / "eval"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 8
    result = runner.invoke(app, ["compare", str(short_run / "base"), str(short_run / "tuned"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 8


def test_study_over_training_sizes(short_run: Path, tiny_causal_path, tmp_path: Path) -> None:
    config = tmp_path / "study.yaml"
    config.write_text(_config(tiny_causal_path, short_run.parent / "short.jsonl", tmp_path / "study", val_metric_items=0)
                      + "sweep: {train_sizes: [4, 8]}\n")
    result = runner.invoke(app, ["study", str(config)])
    assert result.exit_code == 0, result.output
    import csv

    rows = list(csv.DictReader((tmp_path / "study" / "tables" / "runs.csv").open()))
    assert [row["train_size"] for row in rows] == ["4", "8"]
    assert all(row["verdict_exact_match"] and row["tuned_lenient_match"] for row in rows)
