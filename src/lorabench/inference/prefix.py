"""Shared-prefix prefill for batched causal generation.

Evaluation prompts often repeat a long prefix: several questions about one passage share the chat
template, the instruction and the passage, and differ only in their last few dozen tokens. Here
such prompts are grouped, each group's prefix runs through the model once, and its key/value cache
is copied to the group's rows, so `model.generate` only computes the suffixes.

A batch may hold several groups (and prompts that share nothing). Its rows are laid out as

    [pads | group prefix | pads | own suffix]

with the prefix block as wide as the batch's longest group prefix (the groups' prefixes are
left-padded in one forward) and the suffix block as wide as its longest suffix. Padding is
masked out, and `generate` derives position ids from the attention mask's running count, so each
real token gets the position it has in its own unpadded prompt: the prefix keys were computed at
positions 0..P-1 and every suffix continues at P.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from lorabench.inference import model_api

# Below this, a shared prefix saves less than the extra forward and cache copy cost.
MIN_SHARED_PREFIX = 32
# The prefix path must cut the prompt tokens a batch computes by at least this much.
MAX_COST_RATIO = 0.8


@dataclass(frozen=True)
class PrefixGroup:
    members: tuple[int, ...]  # indices into the sequences that were grouped
    length: int  # prefix tokens all members share and keep; 0: a prompt that shares nothing worth reusing


@dataclass(frozen=True)
class BatchPlan:
    """How one batch's rows split into a cached prefix and a suffix that `generate` computes."""

    prefixes: list[list[int]]  # one per group that shares a prefix
    row_group: list[int]  # index into `prefixes` per row (any, for rows without a prefix)
    row_prefix: list[int]  # prefix tokens per row: its group's prefix length, or 0


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def prefix_groups(sequences: Sequence[Sequence[int]], min_prefix: int = MIN_SHARED_PREFIX) -> list[PrefixGroup]:
    """Partition `sequences` into groups that share a prefix, saving the most prefix tokens.

    A group of n members sharing P tokens saves (n - 1) * P tokens of prefill. In lexicographic
    order, every set that shares a prefix is a contiguous run and its shared length is the minimum
    of the neighbours' common prefixes over the run; the runs nest like the nodes of a trie, so for
    each run we keep it whole or split it at its minima, whichever saves more (bottom-up). Each
    member keeps at least its last token out of the prefix, so it still has a suffix to feed.
    """
    n = len(sequences)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: list(sequences[i]))
    # lcp[i] is shared by order[i] and order[i + 1].
    lcp = [
        min(_common_prefix(sequences[a], sequences[b]), len(sequences[a]) - 1, len(sequences[b]) - 1)
        for a, b in zip(order, order[1:])
    ]
    solved: dict[tuple[int, int], tuple[int, list[tuple[int, int, int]]]] = {}
    stack: list[tuple[int, int, bool]] = [(0, n - 1, False)]
    while stack:
        lo, hi, children_done = stack.pop()
        if lo == hi:
            solved[(lo, hi)] = (0, [(lo, hi, 0)])
            continue
        shared = min(lcp[lo:hi])
        cuts = [i for i in range(lo, hi) if lcp[i] == shared]
        children = list(zip([lo] + [c + 1 for c in cuts], cuts + [hi]))
        if not children_done:
            stack.append((lo, hi, True))
            stack.extend((a, b, False) for a, b in children)
            continue
        split = sum(solved[child][0] for child in children)
        whole = (hi - lo) * shared if shared >= min_prefix else 0
        runs = [solved.pop(child) for child in children]
        if whole > 0 and whole >= split:
            solved[(lo, hi)] = (whole, [(lo, hi, shared)])
        else:
            solved[(lo, hi)] = (split, [run for _, child_runs in runs for run in child_runs])
    return [PrefixGroup(tuple(order[lo : hi + 1]), length) for lo, hi, length in solved[(0, n - 1)][1]]


def prefix_order(sequences: Sequence[Sequence[int]]) -> list[int]:
    """An order for cutting into batches: groups of a shared prefix stay together (longest prefix
    first, so batches mix groups of similar prefix length), members longest suffix first; then
    the prompts that share nothing, longest first, as plain length-sorted batching does."""
    groups = prefix_groups(sequences)
    shared = sorted((g for g in groups if g.length), key=lambda g: -g.length)
    alone = sorted((g.members[0] for g in groups if not g.length), key=lambda i: -len(sequences[i]))
    order = [i for g in shared for i in sorted(g.members, key=lambda i: -len(sequences[i]))]
    return order + alone


def plan_batch(sequences: Sequence[Sequence[int]]) -> BatchPlan | None:
    """The prefix/suffix split for one batch, or None when its rows share no prefix worth reusing
    or sharing would not save enough compute (then the batch runs as plain left-padded prompts).

    A prompt that shares nothing either runs whole in the suffix block (cheap when it is short)
    or takes a prefix of its own, all but its last token, in the prefix forward (cheap when it is
    long, since the prefix forward has one row per group, not per prompt); the cheapest mix wins.
    """
    groups = prefix_groups(sequences)
    shared = [g for g in groups if g.length]
    if not shared:
        return None
    loners = sorted((g.members[0] for g in groups if not g.length), key=lambda i: -len(sequences[i]))
    loners = [i for i in loners if len(sequences[i]) > 1]
    plain_cost = len(sequences) * max(len(ids) for ids in sequences)
    best: tuple[int, list[PrefixGroup]] | None = None
    for k in range(len(loners) + 1):
        candidate = shared + [PrefixGroup((i,), len(sequences[i]) - 1) for i in loners[:k]]
        cost = _cost(sequences, candidate)
        if best is None or cost < best[0]:
            best = (cost, candidate)
    assert best is not None
    cost, chosen = best
    if cost > MAX_COST_RATIO * plain_cost:
        return None
    row_group, row_prefix = [0] * len(sequences), [0] * len(sequences)
    for index, group in enumerate(chosen):
        for row in group.members:
            row_group[row], row_prefix[row] = index, group.length
    prefixes = [list(sequences[g.members[0]][: g.length]) for g in chosen]
    return BatchPlan(prefixes, row_group, row_prefix)


def _cost(sequences: Sequence[Sequence[int]], groups: list[PrefixGroup]) -> int:
    """Token positions computed before decoding: the padded prefix forward, then the padded suffixes."""
    prefix_of = {row: g.length for g in groups for row in g.members}
    suffix_width = max(len(ids) - prefix_of.get(row, 0) for row, ids in enumerate(sequences))
    return len(groups) * max(g.length for g in groups) + len(sequences) * suffix_width


def supports_shared_prefix(model: Any) -> bool:
    """Whether a prefilled cache can be handed to this model's `generate` with the exact result.

    Only full-attention layers in a plain DynamicCache qualify: a sliding window counts padding
    columns as tokens, and a configured `cache_implementation` refuses a cache from outside.
    Prompt-learning adapters (prefix tuning) put their own entries into the cache.
    """
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    if getattr(getattr(model, "generation_config", None), "cache_implementation", None) is not None:
        return False
    peft_config = getattr(model, "active_peft_config", None)
    if peft_config is not None and getattr(peft_config, "is_prompt_learning", False):
        return False
    if model_api.cache_argument(model) is None:
        return False
    if not (model_api.accepts(model, "position_ids") and model_api.accepts(model, "attention_mask")):
        return False
    try:
        cache = DynamicCache(config=config)
    except Exception:  # a config the cache cannot read: leave such models on the plain path
        return False
    return all(type(layer) is DynamicLayer for layer in cache.layers)


def prefill(model: Any, plan: BatchPlan, pad_id: int, device: torch.device) -> DynamicCache:
    """Run the groups' prefixes once (left-padded into one batch) and give each row its group's cache."""
    width = max(len(ids) for ids in plan.prefixes)
    ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in plan.prefixes], dtype=torch.long, device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in plan.prefixes], dtype=torch.long, device=device)
    # The positions each prefix has in its own unpadded prompt (padding gets 0 and is masked).
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    # Only the cache is wanted; keeping one position skips most of the vocabulary projection.
    extra: dict[str, Any] = {"logits_to_keep": 1} if model_api.accepts(model, "logits_to_keep") else {}
    extra[model_api.cache_keyword(model)] = cache
    model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra)
    cache.batch_select_indices(torch.tensor(plan.row_group, dtype=torch.long, device=device))
    return cache


def layout(
    sequences: Sequence[Sequence[int]], plan: BatchPlan, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input ids and attention mask of the whole batch, `[pads | prefix | pads | suffix]` per row.
    The prefix block is exactly the cache's width, so `generate` feeds only the suffix block."""
    prefix_width = max(len(ids) for ids in plan.prefixes)
    suffix_width = max(len(ids) - p for ids, p in zip(sequences, plan.row_prefix))
    rows, masks = [], []
    for ids, p in zip(sequences, plan.row_prefix):
        head_pad, tail_pad = prefix_width - p, suffix_width - (len(ids) - p)
        rows.append([pad_id] * head_pad + list(ids[:p]) + [pad_id] * tail_pad + list(ids[p:]))
        masks.append([0] * head_pad + [1] * p + [0] * tail_pad + [1] * (len(ids) - p))
    return torch.tensor(rows, dtype=torch.long), torch.tensor(masks, dtype=torch.long)
