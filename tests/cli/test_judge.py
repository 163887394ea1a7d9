"""`lorabench judge` on two finished eval folders or predictions files: the printed verdicts, the
folder written, and bad input refused in one line with exit code 2 and nothing written."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import tiny_models
from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.synth import synthesize
from tests.judging.judge_server import JudgeServer
from tests.judging.test_sources import RECORDS, _stage

KEY = "sk-never-printed-0123456789"


@pytest.fixture
def server():
    with JudgeServer() as running:
        yield running


def _invoke(*args: str):
    return CliRunner().invoke(app, ["judge", *args])


def _pair(tmp_path):
    base = _stage(tmp_path, "base", ["I do not know."] * 2 + [r.response for r in RECORDS[2:]])
    tuned = _stage(tmp_path, "tuned", [r.response for r in RECORDS])
    return str(base), str(tuned)


def test_two_eval_folders_judged_against_an_endpoint(server, tmp_path, monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", KEY)
    base, tuned = _pair(tmp_path)
    result = _invoke(base, tuned, "--model", "judge-model", "--endpoint", server.url, "--api-key-env", "JUDGE_KEY",
                     "--cache", str(tmp_path / "cache.jsonl"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "judged by judge-model on 4 items (%)" in text
    assert "judge_correct 100.0 50.0 100.0 +50.0 (+2/-0)" in text
    assert "passed its gold check" in text
    assert "2 wins, 0 losses, 2 ties, 2 with identical answers" in text and "exact sign test p = 0.5" in text
    assert "ok all 16 judge outputs had a readable verdict" in text  # 2 pairs identical: not asked
    assert KEY not in result.output
    folder = tmp_path / "judge"  # beside the two stage folders
    assert {p.name for p in folder.iterdir()} == {
        "judge.json", "judgments.jsonl", "judge_correctness_rubric.j2", "judge_preference_rubric.j2"}
    assert all(KEY not in p.read_text() for p in folder.iterdir())

    as_json = _invoke(base, tuned, "--model", "judge-model", "--endpoint", server.url, "--cache",
                      str(tmp_path / "cache.jsonl"), "--out", str(tmp_path / "again"), "--json")
    payload = json.loads(as_json.stdout)  # progress lines go to stderr
    assert payload["cost"]["fresh"] == 0 and payload["trustworthy"] is True


def test_one_predictions_file(server, tmp_path):
    rows = [{"id": f"q{i}", "question": f"Where is thing {i}?", "gold": f"city{i}", "prediction": p}
            for i, p in enumerate(["city0", "It is city1.", "nowhere"])]
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _invoke(str(path), "-m", "judge-model", "--endpoint", server.url, "--cache", str(tmp_path / "c.jsonl"))
    assert result.exit_code == 0, result.output
    assert "model: 66.7% correct, 100.0% attempted" in " ".join(result.output.split())
    assert (tmp_path / "preds-judge" / "judgments.jsonl").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-new-tokens", "0"], "--max-new-tokens: Input should be greater than 0 (got 0)"),
        (["--api-key-env", KEY], "--api-key-env: give the NAME of an environment variable"),
        (["--device", "tpu"], "--device: String should match pattern"),
        (["--concurrency", "0"], "--concurrency: Input should be greater than or equal to 1 (got 0)"),
    ],
)
def test_bad_settings_are_one_line_naming_the_option(tmp_path, args, message):
    base, tuned = _pair(tmp_path)
    result = _invoke(base, tuned, "-m", "judge-model", "--endpoint", "http://127.0.0.1:9/v1", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output
    assert KEY not in result.output
    assert not (tmp_path / "judge").exists()


def test_refusals(tmp_path):
    base, tuned = _pair(tmp_path)
    no_model = _invoke(base, tuned)
    assert no_model.exit_code == 2 and "--model: no judge model given" in no_model.output
    other = _stage(tmp_path / "other", "tuned", ["x"] * 4, prompt={"system": "Be brief."})
    differ = _invoke(base, str(other), "-m", "judge-model")
    assert differ.exit_code == 2
    assert "prompt.system: None vs 'Be brief.'" in differ.output and "--anyway" in " ".join(differ.output.split())
    three = _invoke(base, tuned, tuned, "-m", "judge-model")
    assert three.exit_code == 2 and "give one or two" in three.output


@pytest.mark.xdist_group("tiny_judge")
def test_two_real_eval_folders_judged_by_a_tiny_local_model(tmp_path):
    """`lorabench eval` twice, then `lorabench judge` on the two folders with a model lorabench loads."""
    model = tiny_models.build_tiny_causal(tmp_path / "model", max_positions=4096)
    data = save_records(synthesize("open", 3, seed=2), tmp_path / "open.jsonl")
    for name, system in (("a", "Answer briefly."), ("b", "Answer briefly.")):
        made = CliRunner().invoke(app, ["eval", "-m", str(model), "-d", str(data), "-t", "open", "--max-new-tokens", "6",
                                        "--system", system, "--device", "cpu", "--out", str(tmp_path / name)])
        assert made.exit_code == 0, made.output
    result = _invoke(str(tmp_path / "a"), str(tmp_path / "b"), "-m", str(model), "--device", "cpu",
                     "--max-new-tokens", "6", "--cache", str(tmp_path / "cache.jsonl"), "--out", str(tmp_path / "judged"))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    # A random-weight judge: nothing it says is a verdict, and the guards say so.
    assert "NOT TRUSTWORTHY on this data" in text and "judge outputs had no readable verdict" in text
    # Identical greedy answers: no preference is asked, and every item is a tie.
    assert "0 wins, 0 losses, 3 ties, 3 with identical answers" in text
    judgments = (tmp_path / "judged" / "judgments.jsonl").read_text().splitlines()
    assert len(judgments) == 3 * 3 and all('"raw": ' in line for line in judgments)
