"""_LoraTrainer's length-grouped order: grouped by the global batch, so a data-parallel launch trains
on the same examples at each step as one process with the same global batch."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from accelerate.data_loader import BatchSamplerShard
from torch.utils.data import BatchSampler

from lorabench.training.trainer import _LoraTrainer


def _examples_per_step(lengths: list[int], world_size: int, batch_size: int, grad_accum: int) -> list[list[int]]:
    """The example indices of each optimizer step, as Trainer's sampler orders them and accelerate's
    BatchSamplerShard deals batches to processes (batch i to process i % world_size)."""
    args = SimpleNamespace(
        train_batch_size=batch_size, gradient_accumulation_steps=grad_accum, world_size=world_size, seed=3
    )
    sampler = _LoraTrainer._get_train_sampler(SimpleNamespace(args=args, lengths=lengths))
    per_process = [
        list(BatchSamplerShard(BatchSampler(sampler, batch_size, drop_last=False), world_size, rank))
        for rank in range(world_size)
    ]
    steps = len(per_process[0]) // grad_accum
    return [
        sorted(i for batches in per_process for batch in batches[s * grad_accum : (s + 1) * grad_accum] for i in batch)
        for s in range(steps)
    ]


@pytest.mark.parametrize("n", [24, 40, 1000])
@pytest.mark.parametrize(("world_size", "batch_size", "grad_accum"), [(2, 2, 1), (2, 1, 2), (4, 1, 1), (1, 2, 2)])
def test_each_step_sees_the_same_examples_however_the_global_batch_is_split(n, world_size, batch_size, grad_accum):
    # The length-grouped order is grouped by the global batch (batch x grad_accum x processes). Grouped
    # by one process's batch, as it was, the mega-batches that get sorted by length changed size with
    # the split, so 2 processes at batch 2 trained on other steps than 1 process at batch 4 (n >= 24 here).
    rng = random.Random(n)
    lengths = [rng.randint(20, 400) for _ in range(n)]
    assert _examples_per_step(lengths, world_size, batch_size, grad_accum) == _examples_per_step(lengths, 1, 4, 1)
