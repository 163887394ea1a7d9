"""Where one LoRA training step spends its time: torch.profiler's operator table for one step.

    python -m bench.profile_step [--dtype float32|bfloat16] [--batch 4] [--rows 20] [--model ALIAS]

The step is lorabench's own (`train_adapter`'s model: peft LoRA r 16 on all linear layers, dropout
0.05, the answer-only head), on the packaged SmolLM2 and synthetic extractive examples; two
untimed steps run first. The table lists operators by their own CPU time (self time, so a product
inside a linear layer is counted once) with each one's share of the step. On a shared machine
only the shares mean something.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from torch.profiler import ProfilerActivity, profile

from lorabench.config.decoding import DecodingSettings
from lorabench.config.settings import LoraSettings, TrainSettings
from lorabench.data.synth import synthesize
from lorabench.models.load import ModelSpec, load_model
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import fit_to_model, model_context_length
from lorabench.training.examples import PadCollator, encode_examples
from lorabench.training.lora import wrap_with_lora
from lorabench.training.loss import AnswerOnlyHead


def lora_step(model_name: str, dtype: str, batch_size: int, n_batches: int, dropout: float = 0.05,
              compiled: bool = False) -> tuple[Callable[[dict[str, torch.Tensor]], float], list[dict[str, torch.Tensor]]]:
    """lorabench's training step on `model_name` (peft LoRA r 16 on all linear layers, the answer-only
    head, AdamW) and `n_batches` padded batches of synthetic extractive examples, each of its own
    length. `compiled` runs the model under `torch.compile(dynamic=True)`, so that a new length does
    not compile again. The step returns its loss."""
    loaded = load_model(ModelSpec(name=model_name, device="cpu", dtype=dtype))
    settings = fit_to_model(PromptSettings(), loaded.model, DecodingSettings().max_new_tokens_for("extractive"))
    examples = encode_examples(synthesize("extractive", batch_size * n_batches, seed=0), loaded.tokenizer, settings,
                               False, model_context_length(loaded.model))
    collate = PadCollator(loaded.tokenizer.pad_token_id)
    batches = [collate([e.features() for e in examples[i * batch_size:(i + 1) * batch_size]]) for i in range(n_batches)]
    model = wrap_with_lora(loaded, LoraSettings(r=16, dropout=dropout, target_modules="all-linear"), TrainSettings())
    head = AnswerOnlyHead.attach(model)
    assert head is not None, "a causal model with an output head"
    model.train()
    forward = torch.compile(model, dynamic=True) if compiled else model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")

    def step(batch: dict[str, torch.Tensor]) -> float:
        with autocast:
            loss, _ = head.loss(forward, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return float(loss.detach())

    return step, batches


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_step", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rows", type=int, default=20, help="operators shown")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    step, (batch,) = lora_step(args.model, args.dtype, args.batch, 1)
    for _ in range(2):
        step(batch)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step(batch)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    tokens = int(batch["attention_mask"].sum())
    print(f"one training step, {args.model} in {args.dtype}, batch {args.batch} ({tokens} tokens), "
          f"{args.threads} threads: {total / 1e6:.2f} s of operator self time")
    print(f"{'operator':<44} {'share':>6} {'calls':>6}")
    for event in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.rows]:
        print(f"{event.key[:44]:<44} {100 * event.self_cpu_time_total / total:5.1f}% {event.count:6d}")


if __name__ == "__main__":
    main()
