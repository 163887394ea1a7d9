"""FLOP accounting for the peer benchmarks: the work a case requires, and the machine's ceiling.

A case's required FLOPs count only the work its results need, whoever does it, so a peer and
lorabench are divided by the same number and an engine that wastes work (padding, a prompt
recomputed per option, logits nobody reads) gets no credit for it. For a decoder with `layers`
blocks whose linear layers hold `M` weights in all (the output head excluded), attention width
`A` (query heads x head dim) and an output head of `H` = hidden x vocab weights:

    forward(n new tokens after p cached ones, h logit rows)
        = 2 M n                          every linear layer, once per token
        + 4 A layers (n p + n (n+1) / 2) q.k and attention.v: token t sees t keys (causal)
        + 2 H h                          the head, only where a logit is used

- multiple choice: the prompt once (one logit row: it predicts every option's first token), then
  each option's tokens after the first on the cached prompt, one logit row each;
- generation: each passage group's shared token prefix once, each prompt's remaining tokens (one
  logit row), then the generated tokens fed back one by one (all but the last, one row each);
- LoRA training (rank r on linear layers whose in + out widths sum to `W`): a forward over every
  token with logit rows only at learned labels, and a backward of activations only, since base
  weights get no gradient: the linear layers and the head once more (dX = dY W^T), attention
  twice (both of its products take a gradient), LoRA's own forward, dX and dW (2 r W n each):

      train(n tokens, l learned) = 4 M n + 12 A layers n (n+1) / 2 + 4 H l + 6 r W n

  Embedding lookups, norms, activations and the optimizer are left out (well under 1%).

The ceiling is the best `torch.mm` rate over a few square sizes and the model's own MLP shape, in
the precision the case runs in (float32 or bfloat16), measured in the same process with the same
thread count as the benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelShape:
    """The dimensions the FLOP count needs (see the module docstring for the symbols)."""

    layers: int
    matmul_params: int  # M: weights of every linear layer in the decoder blocks
    lora_width: int  # W: sum of in + out features over those layers (LoRA on all of them)
    attention_width: int  # A: query heads x head dim
    head_params: int  # H: hidden x vocab


@dataclass(frozen=True)
class GenerationGroup:
    """Prompts that share a token prefix (questions on one passage) and what each generated."""

    shared_prefix: int
    prompt_tokens: tuple[int, ...]
    generated_tokens: tuple[int, ...]


def forward_flops(shape: ModelShape, new_tokens: int, past_tokens: int = 0, logit_rows: int = 0) -> float:
    """FLOPs of one causal forward over `new_tokens` after `past_tokens` cached ones."""
    n, p = new_tokens, past_tokens
    attention = 4 * shape.attention_width * shape.layers * (n * p + n * (n + 1) / 2)
    return 2 * shape.matmul_params * n + attention + 2 * shape.head_params * logit_rows


def choice_flops(shape: ModelShape, items: Sequence[tuple[int, Sequence[int]]]) -> float:
    """Required FLOPs of scoring options: `items` are (prompt tokens, token count of each option)."""
    total = 0.0
    for prompt_tokens, options in items:
        total += forward_flops(shape, prompt_tokens, logit_rows=1)
        total += sum(forward_flops(shape, k - 1, prompt_tokens, k - 1) for k in options)
    return total


def generation_flops(shape: ModelShape, groups: Sequence[GenerationGroup]) -> float:
    """Required FLOPs of greedy generation, each group's shared prefix counted once."""
    total = 0.0
    for group in groups:
        total += forward_flops(shape, group.shared_prefix)
        for prompt, generated in zip(group.prompt_tokens, group.generated_tokens, strict=True):
            total += forward_flops(shape, prompt - group.shared_prefix, group.shared_prefix, 1)
            fed_back = max(generated - 1, 0)
            total += forward_flops(shape, fed_back, prompt, fed_back)
    return total


def training_flops(shape: ModelShape, examples: Sequence[tuple[int, int]], lora_rank: int) -> float:
    """Required FLOPs of one pass of LoRA training: `examples` are (tokens, learned tokens)."""
    total = 0.0
    for n, learned in examples:
        attention = 4 * shape.attention_width * shape.layers * n * (n + 1) / 2
        total += 4 * shape.matmul_params * n + 3 * attention + 4 * shape.head_params * learned
        total += 6 * lora_rank * shape.lora_width * n
    return total


def model_shape(model: Any) -> ModelShape:
    """The shape of a transformers decoder (or a peft wrapper around one), read off its modules."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    layers = config.num_hidden_layers
    blocks = next(
        module for module in base.modules() if isinstance(module, torch.nn.ModuleList) and len(module) == layers
    )
    # A peft wrapper's adapter matrices are Linear modules too; only the base layers count as M and W.
    linears = [
        module for name, module in blocks.named_modules()
        if isinstance(module, torch.nn.Linear) and "lora_" not in name
    ]
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    head = base.get_output_embeddings().weight
    return ModelShape(
        layers=layers,
        matmul_params=sum(m.in_features * m.out_features for m in linears),
        lora_width=sum(m.in_features + m.out_features for m in linears),
        attention_width=heads * head_dim,
        head_params=head.shape[0] * head.shape[1],
    )


@dataclass(frozen=True)
class Ceiling:
    """Measured matrix-product rates in `dtype`, GFLOP/s per (m, k, n) shape."""

    rates: dict[tuple[int, int, int], float]
    threads: int
    dtype: str = "float32"

    @property
    def best(self) -> float:
        return max(self.rates.values())

    def describe(self) -> str:
        shapes = ", ".join(f"{m}x{k}x{n} {rate:.0f}" for (m, k, n), rate in self.rates.items())
        return f"{self.dtype} matmul ceiling {self.best:.1f} GFLOP/s ({self.threads} threads; GFLOP/s by m x k x n: {shapes})"


def measure_ceiling(
    shapes: Sequence[tuple[int, int, int]], threads: int, repeats: int = 5, min_seconds: float = 0.2, dtype: str = "float32"
) -> Ceiling:
    """Best-of-`repeats` rate of `torch.mm` in `dtype` for each (m, k, n): each repeat runs the
    product enough times to last `min_seconds`, after one untimed warm-up."""
    import torch

    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    rates: dict[tuple[int, int, int], float] = {}
    for m, k, n in shapes:
        a = torch.randn(m, k, generator=generator).to(getattr(torch, dtype))
        b = torch.randn(k, n, generator=generator).to(getattr(torch, dtype))
        torch.mm(a, b)
        best = float("inf")
        for _ in range(repeats):
            calls, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < min_seconds or calls == 0:
                torch.mm(a, b)
                calls += 1
            best = min(best, elapsed / calls)
        rates[(m, k, n)] = 2 * m * k * n / best / 1e9
    return Ceiling(rates, threads, dtype)
