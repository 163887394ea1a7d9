"""Each command and the lorabench.api function it calls, on the same input, write the same files.

The command is a shell over the function (flags in, one api call, the result rendered), so the two
output folders hold the same names with the same content, up to timings, dates and the folder's
own path.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import lorabench.api as api
from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from lorabench.results import MergeResult
from tests.run_configs import tiny_run

runner = CliRunner()

# Keys whose values are measured, not computed: they differ between any two runs.
_MEASURED = ("latency", "second", "time", "date", "elapsed", "duration", "runtime", "created", "flos", "per_second", "throughput")
_TEXT = {".json", ".jsonl", ".yaml", ".yml", ".csv", ".txt"}


def _normal(value: Any, folder: str) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v, folder) for k, v in value.items() if not any(m in k.lower() for m in _MEASURED)}
    if isinstance(value, list):
        return [_normal(v, folder) for v in value]
    if isinstance(value, str):
        return value.replace(folder, "<OUT>")
    return value


def _content(path: Path, folder: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return _normal(json.loads(text), str(folder))
    if path.suffix == ".jsonl":
        return [_normal(json.loads(line), str(folder)) for line in text.splitlines() if line.strip()]
    if path.suffix in (".yaml", ".yml"):
        return _normal(yaml.safe_load(text), str(folder))
    return text.replace(str(folder), "<OUT>")


def assert_same_files(a: Path, b: Path) -> None:
    names_a = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    names_b = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert names_a == names_b
    assert names_a, "nothing was written"
    for name in names_a:
        if Path(name).suffix in _TEXT:
            assert _content(a / name, a) == _content(b / name, b), name


def _invoke(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_records(synthesize("extractive", 30, seed=7), tmp_path_factory.mktemp("data") / "qa.jsonl")


@pytest.fixture(scope="module")
def runs(tiny_causal_path: Path, qa_file: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`lorabench run` and `lorabench.api.run` on one config: (the command's folder, the function's)."""
    work = tmp_path_factory.mktemp("runs")
    config = tiny_run(tiny_causal_path, qa_file, work / "cli", training={"lr": 5e-3})
    (work / "run.yaml").write_text(yaml.safe_dump(config))
    _invoke("run", work / "run.yaml")
    api.run({**config, "out": str(work / "api")}, say=lambda message: None)
    return work / "cli", work / "api"


def test_run(runs: tuple[Path, Path]) -> None:
    assert_same_files(*runs)


def test_run_prints_what_the_api_result_says(runs: tuple[Path, Path]) -> None:
    """`lorabench run` renders api.run's RunResult: its tables, guards that apply and sentences
    (both again on the command's finished folder: every stage reused)."""
    config = runs[0] / "config.yaml"
    said = " ".join(_invoke("run", config).split())
    result = api.run(config, say=lambda message: None)
    assert result is not None and result.sentences and result.multiplicity and result.applicable_guards
    for line in [*result.sentences, result.multiplicity, *(g.message for g in result.applicable_guards)]:
        assert " ".join(line.split()) in said, line
    assert f"base vs tuned on {result.summary.base.n} items" in said


def test_report(runs: tuple[Path, Path], tmp_path: Path) -> None:
    cli, fn = shutil.copytree(runs[0], tmp_path / "cli"), shutil.copytree(runs[0], tmp_path / "api")
    _invoke("report", cli)
    api.report(fn)
    assert_same_files(cli, fn)


def test_eval_and_compare(tiny_causal_path: Path, qa_file: Path, runs: tuple[Path, Path], tmp_path: Path) -> None:
    _invoke("eval", "-m", tiny_causal_path, "-d", qa_file, "-t", "extractive", "--limit", "6", "--max-new-tokens", "4",
            "--batch-size", "2", "--out", tmp_path / "cli")
    api.evaluate(str(tiny_causal_path), qa_file, "extractive", limit=6, out=tmp_path / "api",
                 decoding={"max_new_tokens": 4, "batch_size": 2})
    assert_same_files(tmp_path / "cli", tmp_path / "api")

    # compare writes nothing: the command's --json and the function's result say the same
    printed = json.loads(_invoke("compare", runs[0] / "base", runs[0] / "tuned", "--json"))
    compared = api.compare(runs[0] / "base", runs[0] / "tuned")
    assert printed["n"] == compared.n and printed["items"] == compared.items
    assert printed["comparison"] == [c.model_dump(exclude_unset=True) for c in compared.comparisons]


def test_train(tiny_causal_path: Path, qa_file: Path, tmp_path: Path) -> None:
    config = tiny_run(tiny_causal_path, qa_file, tmp_path / "config-out")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    _invoke("train", tmp_path / "run.yaml", "--out", tmp_path / "cli")
    api.train(config, out=tmp_path / "api", say=lambda message: None)
    assert_same_files(tmp_path / "cli", tmp_path / "api")


def test_merge(runs: tuple[Path, Path], tmp_path: Path) -> None:
    adapter = runs[0] / "train" / "adapter"
    said = _invoke("merge", adapter, "--out", tmp_path / "cli", "--check-items", "2")
    merged = api.merge(adapter, tmp_path / "api", check_items=2)
    assert_same_files(tmp_path / "cli", tmp_path / "api")
    assert isinstance(merged, MergeResult) and (merged.out, merged.checked) == (tmp_path / "api", 2)
    assert merged.base == json.loads((adapter / "lorabench.json").read_text())["base_model"]["name"]
    assert f"2/2 greedy answers identical ({merged.items_from})" in said


def test_score_writes_metrics_json_where_out_says(tmp_path: Path) -> None:
    rows = [{"gold": ["Velmora"], "prediction": "Velmora"}, {"gold": ["1842"], "prediction": "It was 1842."}]
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _invoke("score", predictions, "--task", "extractive", "--out", tmp_path / "cli")
    scored = api.score(predictions, "extractive", out=tmp_path / "api")
    assert scored.metrics_path == tmp_path / "api" / "metrics.json"
    assert_same_files(tmp_path / "cli", tmp_path / "api")


def test_synth(tmp_path: Path) -> None:
    _invoke("synth", "--task", "math", "-n", "12", "--seed", "3", "--out", tmp_path / "cli" / "math.jsonl")
    api.synth("math", 12, 3, tmp_path / "api" / "math.jsonl")
    assert_same_files(tmp_path / "cli", tmp_path / "api")
