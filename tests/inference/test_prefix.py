"""Planning of shared-prefix batches: which prompts share what, and how a batch is laid out.
That generation through these plans equals one-prompt-at-a-time generation is tested in test_generate."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, MistralConfig, MistralForCausalLM

from lorabench.inference.prefix import (
    MIN_SHARED_PREFIX,
    PrefixGroup,
    layout,
    plan_batch,
    prefix_groups,
    prefix_order,
    supports_shared_prefix,
)

TEMPLATE = list(range(1000, 1000 + MIN_SHARED_PREFIX + 8))  # shared by every prompt below
PASSAGE_A = list(range(2000, 2100))
PASSAGE_B = list(range(3000, 3060))


def _question(seed: int, length: int = 6) -> list[int]:
    return [seed * 10 + j for j in range(length)]


def _groups(sequences: list[list[int]]) -> set[tuple[frozenset[int], int]]:
    return {(frozenset(g.members), g.length) for g in prefix_groups(sequences)}


def test_groups_take_the_longest_prefix_that_pays() -> None:
    a = [TEMPLATE + PASSAGE_A + _question(q) for q in (1, 2, 3)]
    b = [TEMPLATE + PASSAGE_B + _question(q) for q in (4, 5)]
    loner = [7, 8, 9]
    sequences = [a[0], b[0], loner, a[1], b[1], a[2]]
    # Per passage, not one group over the template that all of them share (and not the loner).
    assert _groups(sequences) == {
        (frozenset({0, 3, 5}), len(TEMPLATE) + len(PASSAGE_A)),
        (frozenset({1, 4}), len(TEMPLATE) + len(PASSAGE_B)),
        (frozenset({2}), 0),
    }
    # A lone question per passage: only the template is shared.
    assert _groups([a[0], b[0]]) == {(frozenset({0, 1}), len(TEMPLATE))}


def test_short_prefixes_are_not_shared() -> None:
    short = TEMPLATE[: MIN_SHARED_PREFIX - 1]
    assert _groups([short + [1, 2], short + [3, 4]]) == {(frozenset({0}), 0), (frozenset({1}), 0)}
    assert prefix_groups([]) == []
    assert prefix_groups([[5]]) == [PrefixGroup((0,), 0)]


def test_every_member_keeps_a_suffix() -> None:
    prompt = TEMPLATE + PASSAGE_A
    # Identical prompts, and one that is a prefix of another: the last token is always left over.
    assert _groups([prompt, list(prompt)]) == {(frozenset({0, 1}), len(prompt) - 1)}
    assert _groups([prompt, prompt + [1, 2]]) == {(frozenset({0, 1}), len(prompt) - 1)}


def test_order_keeps_groups_together_then_loners_longest_first() -> None:
    a = [TEMPLATE + PASSAGE_A + _question(q, length=q) for q in (1, 2, 3)]
    b = [TEMPLATE + PASSAGE_B + _question(q) for q in (4, 5)]
    sequences = [b[0], [1] * 5, a[0], [2] * 50, a[2], b[1], a[1]]
    # Passage A (the longer prefix) first, its longest suffix first; then B; then loners by length.
    assert prefix_order(sequences) == [4, 6, 2, 0, 5, 3, 1]


def test_plan_splits_rows_and_layout_pads_between_prefix_and_suffix() -> None:
    a = [TEMPLATE + PASSAGE_A + _question(q, length=q) for q in (2, 5)]
    b = [TEMPLATE + PASSAGE_B + _question(q) for q in (3, 4)]
    loner = [9, 9, 9]
    sequences = [a[0], b[0], loner, a[1], b[1]]
    plan = plan_batch(sequences)
    assert plan is not None
    assert sorted(map(len, plan.prefixes)) == sorted([len(TEMPLATE) + len(PASSAGE_A), len(TEMPLATE) + len(PASSAGE_B)])
    assert plan.row_prefix[2] == 0  # short: cheaper whole in the suffix block than as a prefix row
    ids, mask = layout(sequences, plan, pad_id=-1)
    prefix_width = max(map(len, plan.prefixes))
    assert ids.shape[1] == prefix_width + max(len(s) - p for s, p in zip(sequences, plan.row_prefix))
    positions = mask.cumsum(-1) - 1
    for row, (sequence, p) in enumerate(zip(sequences, plan.row_prefix)):
        # The prefix ends exactly where the cache ends; real tokens get their unpadded positions.
        real = mask[row].bool()
        assert ids[row][real].tolist() == sequence
        assert positions[row][real].tolist() == list(range(len(sequence)))
        assert ids[row, prefix_width - p : prefix_width].tolist() == sequence[:p]
        assert mask[row, -1] == 1
        group_prefix = plan.prefixes[plan.row_group[row]]
        if p:
            assert sequence[:p] == group_prefix


def test_long_loner_gets_a_prefix_of_its_own() -> None:
    a = [TEMPLATE + PASSAGE_A + _question(q) for q in (1, 2, 3)]
    loner = list(range(5000, 5300))
    plan = plan_batch([*a, loner])
    assert plan is not None and len(plan.prefixes) == 2
    assert plan.row_prefix[3] == len(loner) - 1


def test_no_plan_without_sharing_or_saving() -> None:
    assert plan_batch([[1, 2, 3], [4, 5, 6]]) is None
    assert plan_batch([TEMPLATE + [1]]) is None
    # A shared template barely pays when every prompt has 200 tokens of its own.
    tails = [list(range(100 * q, 100 * q + 200)) for q in (1, 2)]
    assert plan_batch([TEMPLATE + tails[0], TEMPLATE + tails[1]]) is None


def test_supported_models(tiny_causal_path, tiny_seq2seq_path) -> None:
    causal = AutoModelForCausalLM.from_pretrained(tiny_causal_path, dtype=torch.float32)
    assert supports_shared_prefix(causal)
    causal.generation_config.cache_implementation = "static"  # would refuse a cache from outside
    assert not supports_shared_prefix(causal)
    assert not supports_shared_prefix(AutoModelForSeq2SeqLM.from_pretrained(tiny_seq2seq_path))
    # A sliding window counts padding columns as tokens, so padded prefixes would shift it.
    config = MistralConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, sliding_window=8,
    )
    assert not supports_shared_prefix(MistralForCausalLM(config))
