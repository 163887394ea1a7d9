"""A small study end to end on a tiny model: grid runs, shared base evaluations, epoch evaluations,
tables and page rebuilt from disk, and resume after an interruption."""

from __future__ import annotations

import csv
import json

import pytest
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.studies import cells as study_runner
from lorabench.studies.grid import load_study
from lorabench.studies.report import write_study_report
from lorabench.studies.runner import run_study


def _study_file(tmp_path, model, data, eval_each_epoch=False):
    text = f"""\
model: {model}
task: extractive
data:
  source: {data}
  split: {{test: 8, validation: 4, seed: 0}}
lora: {{r: 2, alpha: 4, target_modules: [q_proj, v_proj]}}
training: {{epochs: 2, batch_size: 2, lr: 0.005, val_metric_items: 2, logging_steps: 1}}
decoding: {{max_new_tokens: 4, batch_size: 4}}
metrics: {{bootstrap_resamples: 200}}
out: {tmp_path / "study"}
sweep:
  train_sizes: [10, 20]
  strategies: [single, batch]
  eval_each_epoch: {str(eval_each_epoch).lower()}
"""
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory):
    return save_records(synthesize("extractive", 40, seed=11), tmp_path_factory.mktemp("study_data") / "qa.jsonl")


def _read_csv(path):
    return list(csv.DictReader(path.open()))


def test_study_runs_the_grid_shares_base_evals_and_resumes(tiny_causal_path, qa_file, tmp_path, monkeypatch):
    study = load_study(_study_file(tmp_path, tiny_causal_path, qa_file))
    messages: list[str] = []
    # Interrupt after the second run has finished: a real crash in the third.
    calls = {"n": 0}
    real = study_runner.run_pipeline

    def crashing(config, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(config, **kwargs)

    monkeypatch.setattr(study_runner, "run_pipeline", crashing)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, say=messages.append)
    partial = write_study_report(study)
    assert (partial.finished, partial.total) == (2, 4)
    assert "Not finished yet" in partial.html.read_text()
    assert len(_read_csv(tmp_path / "study" / "tables" / "runs.csv")) == 2

    monkeypatch.setattr(study_runner, "run_pipeline", real)
    messages.clear()
    statuses = run_study(study, say=messages.append)
    assert [s.state for s in statuses] == ["done", "done", "ran", "ran"]
    assert any(m.startswith("n20__batch: exact_match: ") for m in messages)  # one verdict line per finished run
    # the n20 single run reused the n10 single run's base evaluation (same model, items, prompts)
    runs = tmp_path / "study" / "runs"
    assert (runs / "n20__single" / "base" / "predictions.jsonl").read_text() == \
        (runs / "n10__single" / "base" / "predictions.jsonl").read_text()

    files = write_study_report(study)
    assert (files.finished, files.total) == (4, 4)
    rows = _read_csv(tmp_path / "study" / "tables" / "runs.csv")
    assert [r["run"] for r in rows] == ["n10__single", "n10__batch", "n20__single", "n20__batch"]
    assert {r["train_items"] for r in rows} == {"10", "20"}
    assert all(r["verdict_exact_match"] for r in rows) and all(float(r["train_seconds"]) >= 0 for r in rows)
    strategies = _read_csv(tmp_path / "study" / "tables" / "strategies.csv")
    assert {r["strategy"] for r in strategies} == {"single", "batch"}
    batch = next(r for r in strategies if r["strategy"] == "batch")
    assert float(batch["Q/Ctx"]) > 1  # several questions share a context in batch mode
    comparisons = _read_csv(tmp_path / "study" / "tables" / "comparisons.csv")
    assert {r["dimension"] for r in comparisons} == {"train_size", "strategy"}
    epochs = _read_csv(tmp_path / "study" / "tables" / "epochs.csv")
    assert {r["epoch"] for r in epochs} == {"1.0", "2.0"}  # validation per epoch from the training logs
    html = files.html.read_text()
    assert "Not finished yet" not in html and html.count("data:image/png;base64,") == 3  # runs, scaling, validation by epoch
    assert [r["train_size"] for r in rows] == [r["train_items"] for r in rows]  # one number for the training size
    assert all(r["short_items"] and r["verdict_short_exact_match"] for r in rows)  # the short-answer subset, paired
    assert all(float(r["tuned_eval_generated_tokens_per_second"]) > 0 for r in rows)
    assert _header_and_cells(html, "runs") == (13, [13, 13, 13, 13])
    assert "GenTok" in html and "| EM | F1 | Lenient |" in files.markdown.read_text()

    # A third invocation has nothing left to do and rebuilds the same tables.
    statuses = run_study(study, say=messages.append)
    assert all(s.state == "done" for s in statuses)


def test_epoch_evaluation_on_the_test_split(tiny_causal_path, qa_file, tmp_path):
    path = _study_file(tmp_path, tiny_causal_path, qa_file, eval_each_epoch=True)
    path.write_text(path.read_text().replace("train_sizes: [10, 20]", "train_sizes: [10]").replace("[single, batch]", "[single]"))
    result = CliRunner().invoke(app, ["study", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 runs finished" in result.output
    run = tmp_path / "study" / "runs" / "n10__single"
    done = json.loads((run / "epochs" / "done.json").read_text())
    assert [d["epoch"] for d in done] == [1.0, 2.0]
    epochs = _read_csv(tmp_path / "study" / "tables" / "epochs.csv")
    assert [e["epoch"] for e in epochs] == ["1.0", "2.0"] and all(e["test_exact_match"] != "" for e in epochs)
    plan = CliRunner().invoke(app, ["study", str(path), "--plan"])
    assert "n10__single: finished" in plan.output


def _header_and_cells(html: str, section: str) -> tuple[int, list[int]]:
    """Header cells and the cells of each body row of one table on the study page."""
    part = html[html.index(f'id="{section}"'):]
    part = part[: part.index("</section>")]
    head, body = part.split("</thead>")
    return head.count("<th>"), [row.count("<td") for row in body.split("<tr>")[1:]]


def test_choice_study_tables_show_only_what_scoring_options_involves(tiny_causal_path, tmp_path):
    data = save_records(synthesize("choice", 24, seed=3), tmp_path / "mc.jsonl")
    path = tmp_path / "study.yaml"
    path.write_text(f"""\
model: {tiny_causal_path}
task: choice
data:
  source: {data}
  split: {{test: 8, validation: 0, seed: 0}}
lora: {{r: 2, alpha: 4, target_modules: [q_proj, v_proj]}}
training: {{epochs: 1, batch_size: 4, lr: 0.005, val_metric_items: 0, logging_steps: 1}}
decoding: {{choice_mode: logprob}}
metrics: {{bootstrap_resamples: 200}}
out: {tmp_path / "study"}
sweep:
  seeds: [0, 1]
""")
    study = load_study(path)
    run_study(study, say=lambda _: None)
    files = write_study_report(study)
    tables = tmp_path / "study" / "tables"
    runs = _read_csv(tables / "runs.csv")
    assert "tuned_eval_generated_tokens_per_second" not in runs[0] and "short_items" not in runs[0]
    # the training size is not swept (all of the train split): every table and the page show the same number
    train = json.loads((tmp_path / "study" / "runs" / "seed0" / "summary.json").read_text())["sizes"]["train"]
    assert {r["train_size"] for r in runs} == {r["train_items"] for r in runs} == {str(train)}
    strategies = _read_csv(tables / "strategies.csv")
    assert list(strategies[0]) == ["run", "model", "train_size", "strategy", "seed", "model_state",
                                   "accuracy", "Q/Ctx", "PromptTok", "PromptTok_API", "Latency"]
    assert {r["train_size"] for r in strategies} == {str(train)} and all(r["accuracy"] != "" for r in strategies)
    markdown, html = files.markdown.read_text(), files.html.read_text()
    assert f"| seed0 | {tiny_causal_path.name} | {train} | single | 0 |" in markdown
    assert "seed: seed0 -> seed1" in markdown and "&gt;" not in markdown
    for text in (markdown, html):
        assert "GenTok" not in text and "ParseFail" not in text and "| EM |" not in text
    header, rows = _header_and_cells(html, "runs")
    assert header == 13 and rows == [13, 13]  # every column has a header, the report link included
    header, rows = _header_and_cells(html, "strategies")
    assert rows and all(r == header for r in rows)
