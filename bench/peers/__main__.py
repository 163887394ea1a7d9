"""`python -m bench.peers`: per precision, measure its ceiling, run the chosen cases, print one table per case."""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console

from bench.cases import case_list
from bench.flops import Ceiling, measure_ceiling
from bench.peers.result import CaseResult, against_float32, environment, show

CASES = ("mc", "gen", "train")
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class Sizes:
    choice_items: int
    choice_batch: int
    generation_items: int
    generation_batch: int
    max_new_tokens: int
    train_items: int
    train_batch: int
    epochs: float


SIZES = {
    # The sizes: 200 x 4 options; 100 questions on ~20 passages; 192 examples, 1 epoch.
    "full": Sizes(200, 16, 100, 16, 64, 192, 8, 1.0),
    # A smoke run (a few minutes): proves every path works, its ratios are not the result.
    "quick": Sizes(4, 16, 8, 16, 64, 16, 8, 1.0),
}


def ceiling_shapes(hidden: int = 576, intermediate: int = 1536) -> list[tuple[int, int, int]]:
    """Square products, and SmolLM2's MLP product over a 512-token batch."""
    return [(1024, 1024, 1024), (1536, 1536, 1536), (2048, 2048, 2048), (512, hidden, intermediate)]


def case_runners(sizes: Sizes, seed: int, trl_checkpointing: bool) -> dict[str, Callable[[str], CaseResult]]:
    """Each case imports its peer only when it runs, so `--cases mc` needs no TRL; each takes the dtype."""

    def choice(dtype: str) -> CaseResult:
        from bench.peers import choice

        return choice.run(sizes.choice_items, sizes.choice_batch, seed, dtype)

    def generation(dtype: str) -> CaseResult:
        from bench.peers import generation

        return generation.run(sizes.generation_items, sizes.generation_batch, sizes.max_new_tokens, seed, dtype)

    def training(dtype: str) -> CaseResult:
        from bench.peers import training

        return training.run(sizes.train_items, sizes.train_batch, sizes.epochs, seed, trl_checkpointing, dtype)

    return {"mc": choice, "gen": generation, "train": training}


def quiet_libraries() -> None:
    """Progress bars and the libraries' notices about their own calls would land between the tables."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # TRL sets TrainingArguments.gradient_checkpointing itself, a name transformers 5 deprecated.
    warnings.filterwarnings("ignore", message=".*(is_)?gradient_checkpointing.* is deprecated", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*pin_memory.*no accelerator", category=UserWarning)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--sizes", choices=sorted(SIZES), default="quick", help="quick: a smoke run; full: the issue's sizes")
    parser.add_argument("--cases", type=case_list(CASES), default=list(CASES), help="comma-separated: mc,gen,train")
    parser.add_argument("--dtype", type=case_list(DTYPES, "precision"), default=["float32"],
                        help="comma-separated: float32,bfloat16; a bfloat16 row is compared with the float32 row of the "
                        "same tool when both run (float32 runs first)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, for the ceiling and every case")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trl-no-checkpointing", action="store_true",
                        help="turn off TRL's default gradient checkpointing (SFTConfig defaults it to on)")
    parser.add_argument("--json", type=Path, help="also write the results and environment to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    quiet_libraries()
    console = Console(width=160)
    env = environment(args.threads)
    console.print(" | ".join(f"{key} {value}" for key, value in env.items()), soft_wrap=True)
    runners = case_runners(SIZES[args.sizes], args.seed, not args.trl_no_checkpointing)
    float32: dict[str, CaseResult] = {}
    report: dict = {"sizes": args.sizes, "environment": env, "precisions": []}
    for dtype in sorted(args.dtype, key=DTYPES.index):  # float32 first: the reference of the others
        ceiling: Ceiling = measure_ceiling(ceiling_shapes(), args.threads, dtype=dtype)
        console.print(ceiling.describe(), soft_wrap=True)
        cases = []
        for case in args.cases:
            result = runners[case](dtype)
            reference = float32.get(case) if dtype != "float32" else None
            show(result, ceiling, console, reference)
            if dtype == "float32":
                float32[case] = result
            cases.append({**result.to_dict(ceiling), **({"vs_float32": against_float32(result, reference)} if dtype != "float32" else {})})
        report["precisions"].append({"dtype": dtype, "ceiling": ceiling.describe(), "ceiling_gflops": ceiling.best, "cases": cases})
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
