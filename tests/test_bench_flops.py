"""bench/flops.py: the FLOP accounting of the peer benchmarks, checked without the peers installed."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from bench.flops import (
    GenerationGroup,
    ModelShape,
    choice_flops,
    forward_flops,
    generation_flops,
    measure_ceiling,
    model_shape,
    training_flops,
)

# Round numbers, so the expected values below can be worked out by hand.
SHAPE = ModelShape(layers=2, matmul_params=1000, lora_width=100, attention_width=10, head_params=500)


def test_forward_counts_linears_attention_and_used_logit_rows() -> None:
    # 3 tokens after 4 cached: linears 2*1000*3; attention 4*10*2 * (3*4 + 3*4/2) keys; 2 logit rows.
    assert forward_flops(SHAPE, 3, past_tokens=4, logit_rows=2) == 6000 + 80 * 18 + 2000


def test_a_cached_continuation_costs_what_one_pass_over_the_whole_sequence_costs() -> None:
    # Reading a prompt once and then an option on its cache is the same work as one pass over both.
    one_option = choice_flops(SHAPE, [(7, [3])])
    assert one_option == forward_flops(SHAPE, 7 + 3 - 1, logit_rows=3)


def test_choice_reads_the_prompt_once_for_all_options() -> None:
    options = [3, 1, 2, 4]
    per_option = sum(choice_flops(SHAPE, [(7, [k])]) for k in options)
    # Scoring the four options separately would read the 7-token prompt (and its logit row) four times.
    assert choice_flops(SHAPE, [(7, options)]) == per_option - 3 * forward_flops(SHAPE, 7, logit_rows=1)


def test_generation_counts_a_shared_prefix_once() -> None:
    alone = [GenerationGroup(0, (20,), (5,)), GenerationGroup(0, (24,), (3,))]
    shared = [GenerationGroup(15, (20, 24), (5, 3))]
    assert generation_flops(SHAPE, shared) == generation_flops(SHAPE, alone) - forward_flops(SHAPE, 15)


def test_generation_feeds_back_all_generated_tokens_but_the_last() -> None:
    prompt_and_answer = generation_flops(SHAPE, [GenerationGroup(0, (20,), (5,))])
    # As one pass: the prompt, then four of the five new tokens, a logit row at each of those 1 + 4 positions.
    assert prompt_and_answer == forward_flops(SHAPE, 24, logit_rows=5)
    assert generation_flops(SHAPE, [GenerationGroup(0, (20,), (0,))]) == forward_flops(SHAPE, 20, logit_rows=1)


def test_training_is_forward_plus_activation_backward_plus_lora() -> None:
    n, learned, rank = 6, 2, 4
    attention = 4 * 10 * 2 * n * (n + 1) / 2
    expected = 4 * 1000 * n + 3 * attention + 4 * 500 * learned + 6 * rank * 100 * n
    assert training_flops(SHAPE, [(n, learned)], rank) == expected
    # Without LoRA it is exactly the forward, plus the backward's linears and head once and attention twice.
    forward = forward_flops(SHAPE, n, logit_rows=learned)
    assert training_flops(SHAPE, [(n, learned)], 0) == 2 * forward + attention
    assert training_flops(SHAPE, [(n, learned), (n, learned)], rank) == 2 * expected


def test_model_shape_of_smollm2_135m() -> None:
    config = LlamaConfig(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, head_dim=64, vocab_size=49152, tie_word_embeddings=True,
    )
    with torch.device("meta"):
        shape = model_shape(LlamaForCausalLM(config))
    # Per block: q and o 576x576, k and v 576x192 (3 key/value heads of 64), gate, up and down 576x1536.
    per_block = 2 * 576 * 576 + 2 * 576 * 192 + 3 * 576 * 1536
    assert shape == ModelShape(
        layers=30,
        matmul_params=30 * per_block,
        lora_width=30 * (2 * 1152 + 2 * 768 + 3 * 2112),
        attention_width=576,
        head_params=576 * 49152,
    )


def test_model_shape_ignores_lora_matrices(tiny_causal_path: Path) -> None:
    from peft import LoraConfig, get_peft_model

    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path)
    plain = model_shape(model)
    wrapped = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    assert model_shape(wrapped) == plain
    assert plain.layers == model.config.num_hidden_layers


def test_ceiling_measures_every_shape() -> None:
    ceiling = measure_ceiling([(64, 64, 64), (32, 48, 16)], threads=1, repeats=2, min_seconds=0.001)
    assert set(ceiling.rates) == {(64, 64, 64), (32, 48, 16)}
    assert all(rate > 0 for rate in ceiling.rates.values())
    assert ceiling.best == max(ceiling.rates.values())
    assert "32x48x16" in ceiling.describe()



def test_ceiling_is_measured_in_the_precision_asked() -> None:
    ceiling = measure_ceiling([(64, 64, 64)], threads=1, repeats=1, min_seconds=0.001, dtype="bfloat16")
    assert ceiling.dtype == "bfloat16" and ceiling.describe().startswith("bfloat16 matmul ceiling")
    assert measure_ceiling([(16, 16, 16)], threads=1, repeats=1, min_seconds=0.001).dtype == "float32"
