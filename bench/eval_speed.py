"""Evaluation speed: lorabench's batched paths against the naive one-at-a-time baselines.

Compared, on the same loaded model and the same synthetic items, in one run:

1. Generation (extractive QA, default PromptSettings, greedy, max_new_tokens 32, the task's stop
   strings): `generate_naive` (one `model.generate` per item, no padding) against `generate`
   (batches of --batch-size). Several questions share each passage, so their prompts share a long
   prefix (chat template, instruction, passage): `generate` batches them together, runs each
   group's prefix once and hands its key/value cache to the group's rows, so only the questions
   are prefilled per item; batches without such sharing are length-sorted and left-padded.
   Then `continuous.generate` (what the hf backend runs for such a model: --batch-size slots
   refilled as answers finish, prompt-lookup guesses) on all items at once, against the same
   naive total: continuous batching needs the whole queue, so it is not timed chunk by chunk.
2. Multiple choice (4 options, contexts lengthened to 150+ tokens): `score_options_naive` (one full
   forward of prompt + option per option) against `score_options` (the prompt once, then the
   options as one batch on its repeated key/value cache).

Each pair must agree (same predictions after `answer_from_generation` / same argmax, near-equal
scores), so the speedup is free. Ratios, not absolute times, are the result: absolute items/s
depend on the CPU, thread count and load, while both paths of a pair run back to back on the
same machine, so their ratio is what a change to lorabench moves.

    python bench/eval_speed.py [--items 64] [--batch-size 16] [--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from lorabench.core.kinds import get_task
from lorabench.data.records import TaskKind

from lorabench.tasks.choice import ChoiceRecord
from lorabench.data.synth import synthesize
from lorabench.inference import continuous
from lorabench.inference.choice import OptionScores, option_continuations, score_options, score_options_naive
from lorabench.inference.generate import Generation, GenerationSettings, batch_order, generate, generate_naive
from lorabench.inference.prefix import plan_batch, supports_shared_prefix
from lorabench.models.load import LoadedModel, ModelSpec, load_model
from lorabench.prompts.answers import STOP_STRINGS, answer_from_generation
from lorabench.prompts.build import Prompt, PromptSettings, build_prompt, encode_prompt

T = TypeVar("T")
MIN_CONTEXT_TOKENS = 150


@dataclass
class Row:
    task: str
    n: int
    naive_s: float
    fast_s: float
    identical: int
    note: str

    @property
    def speedup(self) -> float:
        return self.naive_s / self.fast_s


def interleaved(
    items: list[T], chunk: int, naive: Callable[[list[T]], list[Any]], fast: Callable[[list[T]], list[Any]]
) -> tuple[list[Any], float, list[Any], float]:
    """Time both paths chunk by chunk, alternating which goes first, so that load from other
    processes (this CPU is shared) falls on both alike instead of on whichever ran during it."""
    out: dict[str, list[Any]] = {"naive": [], "fast": []}
    seconds = {"naive": 0.0, "fast": 0.0}
    for index, start in enumerate(range(0, len(items), chunk)):
        part = items[start : start + chunk]
        order = [("naive", naive), ("fast", fast)]
        for name, fn in order if index % 2 == 0 else order[::-1]:
            started = time.perf_counter()
            out[name].extend(fn(part))
            seconds[name] += time.perf_counter() - started
    return out["naive"], seconds["naive"], out["fast"], seconds["fast"]


def bench_generation(loaded: LoadedModel, n: int, batch_size: int, seed: int) -> tuple[list[Row], float]:
    tok, model = loaded.tokenizer, loaded.model
    records = synthesize(TaskKind.extractive, n, seed)
    prompts = [build_prompt(r, tok, PromptSettings()) for r in records]
    stops = STOP_STRINGS[TaskKind.extractive]
    naive_settings = GenerationSettings(max_new_tokens=32, batch_size=1, stop_strings=stops)
    fast_settings = GenerationSettings(max_new_tokens=32, batch_size=batch_size, stop_strings=stops)
    # Warm-up, untimed: one item each way (and one small padded batch for the batched kernels).
    list(generate_naive(model, tok, prompts[:1], naive_settings))
    list(generate(model, tok, prompts[:2], fast_settings))

    # In `generate`'s own batch order, so each chunk of batch_size is the very batch a single
    # `generate` call over all items would run.
    ordered = batch_order(model, tok, prompts, fast_settings)
    naive, naive_s, fast, fast_s = interleaved(
        ordered, batch_size,
        lambda part: list(generate_naive(model, tok, part, naive_settings)),
        lambda part: list(generate(model, tok, part, fast_settings)),
    )
    rows = [_generation_row("generation (extractive), padded batches", records, naive, naive_s, fast, fast_s)]
    encoded = [encode_prompt(p.text, tok, p.chat) for p in ordered]
    stats = _generation_stats(fast, encoded, batch_size, supports_shared_prefix(model))
    print(f"generation: {stats}")
    if continuous.supported(model):
        list(continuous.generate(model, tok, prompts[:2], fast_settings))  # warm-up, untimed
        started = time.perf_counter()
        slots = list(continuous.generate(model, tok, prompts, fast_settings))
        slots_s = time.perf_counter() - started
        rows.append(_generation_row("generation (extractive), continuous", records, naive, naive_s, slots, slots_s))
    mean_tokens = sum(p.n_tokens for p in prompts) / len(prompts)
    return rows, mean_tokens


def _generation_row(
    task: str, records: list[Any], naive: list[Generation], naive_s: float, fast: list[Generation], fast_s: float
) -> Row:
    answers = lambda gens: {g.record_id: answer_from_generation(get_task(TaskKind.extractive), g.text) for g in gens}
    a_naive, a_fast = answers(naive), answers(fast)
    same = sum(a_naive[r.id] == a_fast[r.id] for r in records)
    diff = next((r.id for r in records if a_naive[r.id] != a_fast[r.id]), None)
    note = "" if diff is None else f"e.g. {diff}: naive {a_naive[diff]!r} vs lorabench {a_fast[diff]!r}"
    return Row(task, len(records), naive_s, fast_s, same, note)


def _generation_stats(gens: list[Generation], encoded: list[list[int]], batch_size: int, share: bool) -> str:
    """Where batched time goes: prompt positions computed (shared prefixes once, plus padding)
    against the naive path's, and steps a batch runs after most rows stopped."""
    prompt_real = prompt_computed = gen_real = gen_steps = shared_batches = 0
    for start in range(0, len(gens), batch_size):
        batch, ids = gens[start : start + batch_size], encoded[start : start + batch_size]
        plan = plan_batch(ids) if share else None
        shared_batches += plan is not None
        prompt_real += sum(len(x) for x in ids)
        if plan is None:
            prompt_computed += len(ids) * max(len(x) for x in ids)
        else:
            suffix_width = max(len(x) - p for x, p in zip(ids, plan.row_prefix))
            prompt_computed += len(plan.prefixes) * max(map(len, plan.prefixes)) + len(ids) * suffix_width
        gen_real += sum(g.generated_tokens for g in batch)
        gen_steps += len(batch) * max(g.generated_tokens for g in batch)
    n_batches = -(-len(gens) // batch_size)
    mean_new = sum(g.generated_tokens for g in gens) / len(gens)
    return (f"mean new tokens {mean_new:.1f}, max {max(g.generated_tokens for g in gens)}; "
            f"{shared_batches}/{n_batches} batches share prefixes; "
            f"prompt positions computed {prompt_computed / prompt_real:.0%} of naive's, "
            f"decode rows idle after stop {1 - gen_real / gen_steps:.0%}")


def lengthen(records: list[ChoiceRecord], filler: list[str], tok: Any) -> list[ChoiceRecord]:
    """Prepend other synthetic passages (deterministically, in order) until each context is long enough."""
    out, j = [], 0
    for record in records:
        context = record.context
        while len(tok(context, add_special_tokens=False)["input_ids"]) < MIN_CONTEXT_TOKENS:
            context = f"{filler[j % len(filler)]} {context}"
            j += 1
        out.append(ChoiceRecord(id=record.id, question=record.question, options=record.options,
                                answer=record.answer, context=context))
    return out


def bench_choice(loaded: LoadedModel, n: int, seed: int) -> tuple[Row, float, float]:
    tok, model = loaded.tokenizer, loaded.model
    base = [r for r in synthesize(TaskKind.choice, n, seed) if isinstance(r, ChoiceRecord)]
    filler = [r.context for r in synthesize(TaskKind.choice, n, seed + 1000) if isinstance(r, ChoiceRecord)]
    records = lengthen(base, filler, tok)
    items: list[tuple[Prompt, list[str], list[str]]] = []
    for record in records:
        prompt = build_prompt(record, tok, PromptSettings())
        items.append((prompt, option_continuations(record, prompt), record.labels))
    context_tokens = sum(len(tok(r.context, add_special_tokens=False)["input_ids"]) for r in records) / n
    mean_tokens = sum(p.n_tokens for p, _, _ in items) / n

    def run(score: Callable[..., OptionScores]) -> Callable[[list[Any]], list[OptionScores]]:
        return lambda part: [score(model, tok, p, c, labels) for p, c, labels in part]

    score_options_naive(model, tok, *items[0])  # warm-up, untimed
    score_options(model, tok, *items[0])
    naive, naive_s, fast, fast_s = interleaved(items, 4, run(score_options_naive), run(score_options))
    same = sum(a.prediction() == b.prediction() for a, b in zip(naive, fast))
    max_diff = max(abs(x - y) for a, b in zip(naive, fast) for x, y in zip(a.sum_logprob, b.sum_logprob))
    row = Row("multiple choice (4 options)", n, naive_s, fast_s, same, f"max |score diff| {max_diff:.2e}")
    return row, mean_tokens, context_tokens


def show(rows: list[Row], header: list[str]) -> None:
    cells = [[r.task, f"{r.n / r.naive_s:.2f}", f"{r.n / r.fast_s:.2f}", f"{r.speedup:.2f}x",
              f"{r.identical}/{r.n}"] for r in rows]
    titles = ["task", "naive items/s", "lorabench items/s", "speedup", "identical predictions"]
    try:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=" | ".join(header))
        for title in titles:
            table.add_column(title, justify="left" if title == "task" else "right")
        for row in cells:
            table.add_row(*row)
        Console(width=120).print(table)
    except ImportError:
        print("\n".join(header))
        for row in [titles, *cells]:
            print(" | ".join(row))
    for r in rows:
        if r.note:
            print(f"{r.task}: {r.note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 keeps torch's default")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    loaded = load_model(ModelSpec(name=args.model, device="cpu"))
    print(f"model {args.model} loaded in {loaded.load_seconds:.1f}s ({loaded.dtype}, {loaded.device})")
    gen_rows, gen_tokens = bench_generation(loaded, args.items, args.batch_size, args.seed)
    choice_row, choice_tokens, context_tokens = bench_choice(loaded, args.items, args.seed)
    header = [
        f"model {args.model} | torch {torch.__version__}, {torch.get_num_threads()} threads | "
        f"batch size {args.batch_size}",
        f"mean prompt tokens: generation {gen_tokens:.0f}, choice {choice_tokens:.0f} "
        f"(context {context_tokens:.0f})",
    ]
    show([*gen_rows, choice_row], header)
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
