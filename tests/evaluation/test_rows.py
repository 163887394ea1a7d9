"""A question's row: scored by its kind's Task, whichever strategy asked the question, with its share of the cost."""

from __future__ import annotations

import pytest

from lorabench.core.kinds import get_task
from lorabench.data.synth import synthesize
from lorabench.evaluation.rows import batch_cost, generated_row, item_scores, option_row, sequential_cost, single_cost
from lorabench.inference.base import Generation
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, score_item
from lorabench.prompts.build import Prompt


def _prompt(record_id: str) -> Prompt:
    return Prompt(record_id, "Question?", "", chat=False, n_tokens=7, shortened=True)


def test_a_choice_answer_is_scored_against_the_record_s_own_options() -> None:
    record = synthesize("choice", 1, seed=2)[0]
    task = get_task("choice")
    # The option's text counts as its label: the scorer sees the record's options.
    assert item_scores(task, record, record.answer_text)["accuracy"] == 1.0
    assert item_scores(task, record, record.answer) == score_item(
        "choice", ScoreInput(list(record.golds), record.answer, list(record.options))
    )


def test_a_question_without_a_parsed_answer_is_wrong_on_every_metric() -> None:
    record = next(r for r in synthesize("extractive", 6, seed=2) if r.golds)
    task = get_task("extractive")
    gen = Generation(record.id, "1. garbage", 10, 3, 0.5, False, "eos")
    cost = single_cost(gen).row_fields("batch", 1)
    failed = generated_row(task, record, _prompt(record.id), "", gen, False, cost, ScoreSettings(), "no answer 1")
    assert failed["scores"] == dict.fromkeys(task.metrics, 0.0)
    assert failed["parse_failure"] is True and failed["parse_error"] == "no answer 1"
    right = generated_row(task, record, _prompt(record.id), record.golds[0], gen, True, cost, ScoreSettings())
    assert right["scores"][task.primary_metric] == 1.0 and right["parse_failure"] is False
    assert (right["raw"], right["prompt_tokens"], right["hit_max_new_tokens"], right["strategy"]) == ("1. garbage", 10, True, "batch")


def test_an_option_row_keeps_the_engine_s_strategy_and_reads_no_generation() -> None:
    record = synthesize("choice", 1, seed=3)[0]
    row = option_row(get_task("choice"), record, _prompt(record.id), record.answer, "letter", 0.123456, ScoreSettings())
    assert row["scores"] == {"accuracy": 1.0, "no_choice": 0.0}
    assert (row["stop_reason"], row["generated_tokens"], row["prompt_tokens"], row["latency_s"]) == ("letter", 0, 7, 0.1235)
    assert row["prompt_shortened"] is True and "raw" not in row


def _gen(prompt_tokens: int, generated: int, latency: float) -> Generation:
    return Generation("x", "", prompt_tokens, generated, latency, False, "eos")


def test_sequential_cost_by_hand():
    # Three turns whose prompts are 50, 62 and 75 tokens; the model wrote 4, 5 and 6 tokens.
    turns = [_gen(50, 4, 0.1), _gen(62, 5, 0.2), _gen(75, 6, 0.3)]
    cost = sequential_cost(turns)
    assert cost.questions == 3
    assert cost.prompt_tokens == 75 - (4 + 5)  # the last prompt, minus the answers it wrote itself
    assert cost.api_prompt_tokens == 50 + 62 + 75  # every turn re-sends its history
    assert cost.generated_tokens == 15
    assert cost.latency_s == pytest.approx(0.6)
    fields = cost.row_fields("sequential", 3)
    assert fields == {
        "strategy": "sequential",
        "questions_in_context": 3,
        "prompt_tokens_per_question": 22.0,
        "generated_tokens_per_question": 5.0,
        "api_prompt_tokens": round(187 / 3, 4),
        "latency_per_question_s": pytest.approx(0.2),
    }


def test_batch_and_single_costs():
    batch = batch_cost(_gen(120, 12, 0.9), 4).row_fields("batch", 4)
    assert batch["prompt_tokens_per_question"] == batch["api_prompt_tokens"] == 30.0
    assert batch["generated_tokens_per_question"] == 3.0 and batch["latency_per_question_s"] == pytest.approx(0.225)
    single = single_cost(_gen(40, 2, 0.1)).row_fields("single", 4)
    assert single["prompt_tokens_per_question"] == single["api_prompt_tokens"] == 40.0
    assert single["questions_in_context"] == 4  # the data's, not the prompt's
