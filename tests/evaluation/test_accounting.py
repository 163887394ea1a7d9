"""Per-strategy cost accounting read back from rows, and its summary table."""

from __future__ import annotations

import math

import pytest

from lorabench.evaluation.accounting import ACCOUNTING_COLUMNS, accounting_summary, accounting_table


def _row(strategy, q, prompt, gen, api, latency, em, failure=False):
    return {
        "strategy": strategy, "questions_in_context": q, "prompt_tokens_per_question": prompt,
        "generated_tokens_per_question": gen, "api_prompt_tokens": api, "latency_per_question_s": latency,
        "scores": {"exact_match": em, "f1": em / 2, "lenient_match": em}, "parse_failure": failure,
    }


def test_summary_means_per_strategy():
    rows = [
        # batch: a context of 3 questions and one of 1
        *[_row("batch", 3, 30, 3, 30, 0.1, 1.0) for _ in range(3)],
        _row("batch", 1, 50, 5, 50, 0.5, 0.0, failure=True),
        # a row written before strategies existed
        {"prompt_tokens": 10, "generated_tokens": 2, "latency_s": 0.2, "scores": {"exact_match": 1.0, "f1": 1.0, "lenient_match": 1.0}},
    ]
    summary = accounting_summary(rows)
    batch = summary["batch"]
    assert batch["n"] == 4 and batch["EM"] == 0.75 and batch["F1"] == 0.375 and batch["Lenient"] == 0.75
    assert batch["Q/Ctx"] == pytest.approx(2.0)  # 4 questions over 2 contexts
    assert batch["PromptTok"] == 35 and batch["GenTok"] == 3.5 and batch["PromptTok_API"] == 35
    assert batch["Latency"] == pytest.approx(0.2) and batch["ParseFail"] == 0.25
    old = summary["single"]
    assert old["Q/Ctx"] == 1 and old["PromptTok"] == old["PromptTok_API"] == 10 and old["GenTok"] == 2
    table = accounting_table(summary).splitlines()
    assert table[0] == "| " + " | ".join(ACCOUNTING_COLUMNS) + " |"
    assert table[2].startswith("| batch | 4 | 0.75 |")


def test_summary_without_extractive_scores_is_nan():
    summary = accounting_summary([{"prompt_tokens": 1, "generated_tokens": 1, "latency_s": 0.0, "scores": {"accuracy": 1.0}}])
    assert math.isnan(summary["single"]["EM"])
