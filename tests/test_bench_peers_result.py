"""bench/peers/result.py: a bfloat16 row's agreement with the float32 row of the same tool, and its table,
checked without the peers installed."""

from __future__ import annotations

import io

from rich.console import Console

from bench.flops import Ceiling
from bench.peers.result import CaseResult, Outputs, Target, against_float32, show


def _result(dtype: str, outputs: Outputs, peer: str = "lm-eval HFLM.loglikelihood, batch 16") -> CaseResult:
    return CaseResult("multiple choice (log-prob)", "4 x 4 options", peer, 2.0, 1.0, "4/4 same choices", 4e9,
                      Target(ratio=3.5), 1.0, [], dtype=dtype, outputs=outputs)


def test_choices_and_answers_are_counted_against_the_same_tools_float32_run() -> None:
    float32 = _result("float32", Outputs("choices", [0, 1, 2, 3], [0, 1, 2, 3]))
    bf16 = _result("bfloat16", Outputs("choices", [0, 1, 2, 0], [0, 1, 2, 3]))
    assert against_float32(bf16, float32) == "identical choices to float32: lm-eval 3/4, lorabench 4/4"


def test_training_states_the_difference_in_mean_loss() -> None:
    peer = "TRL SFTTrainer, gradient checkpointing on"
    float32 = _result("float32", Outputs("loss", [0.956], [0.943]), peer)
    bf16 = _result("bfloat16", Outputs("loss", [0.9601], [0.9412]), peer)
    assert against_float32(bf16, float32) == "mean train loss minus float32's: TRL +0.0041, lorabench -0.0018"


def test_without_a_float32_run_the_row_says_so() -> None:
    bf16 = _result("bfloat16", Outputs("choices", [0], [0]))
    assert against_float32(bf16, None).startswith("no float32 run")


def test_the_bfloat16_table_names_its_precision_and_the_comparison() -> None:
    float32 = _result("float32", Outputs("answers", ["a", "b"], ["a", "b"]))
    bf16 = _result("bfloat16", Outputs("answers", ["a", "c"], ["a", "b"]))
    out = io.StringIO()
    console = Console(file=out, width=400)
    show(bf16, Ceiling({(1024, 1024, 1024): 400.0}, 2, "bfloat16"), console, float32)
    show(float32, Ceiling({(1024, 1024, 1024): 200.0}, 2), console)
    text = out.getvalue()
    assert "multiple choice (log-prob) in bfloat16" in text and "% of bfloat16 ceiling" in text
    assert "identical answers to float32: lm-eval 1/2, lorabench 2/2" in text
    assert "in float32" in text and text.count("vs float32 (same tool)") == 1
