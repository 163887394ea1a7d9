"""What the remaining speed levers buy: torch.compile for the training step, LoRA dropout's mask, decode slots.

    python -m bench.levers [--cases step,slots] [--dtype float32,bfloat16] [--steps 4] [--variants ...]
                           [--slots 16,32,64] [--threads 2] [--model ALIAS|FOLDER] [--json PATH]

`make bench-peers` shows lorabench short of its targets (bench/README.md); this measures the levers
that could close the gap, each against lorabench as it runs today, in the same run:

- `step`: one LoRA training step as `lorabench train` takes it (bench.profile_step's model: peft
  LoRA r 16 on all linear layers, dropout 0.05, the answer-only head, AdamW), batch 8 of synthetic
  extractive examples, a new batch (and length) each step. Variants:
  - `eager`: today's step;
  - `compile, cold cache`: the model under `torch.compile(dynamic=True)` (inductor, the default
    backend) with an empty compile cache, as a user's first compiled run;
  - `compile, warm cache`: the same in a new process that finds the first one's cache, as a
    user's next run;
  - `no LoRA dropout`: dropout 0, an upper bound on what any faster dropout could buy: the
    dropout mask is drawn by torch's CPU `bernoulli_`, which runs on one thread, and any other
    generator draws other masks, so float32 results would no longer equal today's.
  Each variant reports its first step (the compile included), the median of the later steps, the
  later steps' speed-up over eager, and after how many steps the compile has paid for itself.
- `slots`: `evaluate_records` (the loop of `lorabench eval`) on the generation benchmark's 100
  extractive questions with 16, 32 and 64 slots (`decoding.batch_size`, the number of sequences the
  continuous-batching engine decodes together), with the answers compared to 16 slots'.

Every measurement runs in a fresh Python process (a compile cache or an allocator never carries
over, except the warm cache on purpose), with the same threads. Timing needs a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ALIAS = "smollm2-135m-instruct"
STEP_VARIANTS = ("eager", "compile-cold", "compile-warm", "no-dropout")
VARIANT_NAMES = {
    "eager": "eager (today)", "compile-cold": "compile, cold cache", "compile-warm": "compile, warm cache",
    "no-dropout": "no LoRA dropout",
}
SLOTS = (16, 32, 64)
BATCH = 8
RESULT_PREFIX = "LEVERS_RESULT "


@dataclass(frozen=True)
class StepRun:
    """One variant's training steps: each step's seconds and loss, in order."""

    variant: str
    dtype: str
    seconds: tuple[float, ...]
    losses: tuple[float, ...]
    tokens: int

    @property
    def first(self) -> float:
        return self.seconds[0]

    @property
    def later(self) -> float:
        return statistics.median(self.seconds[1:])


@dataclass(frozen=True)
class SlotRun:
    dtype: str
    slots: int
    seconds: float
    answers: tuple[str, ...]


def break_even_steps(eager: StepRun, variant: StepRun) -> float | None:
    """Steps after which `variant` has caught up its slower first step; None if its later steps are not faster."""
    saving = eager.later - variant.later
    if saving <= 0:
        return None
    return max(0.0, (variant.first - eager.first) / saving)


def step_rows(runs: list[StepRun]) -> list[dict[str, str]]:
    """The training-step table as plain strings, one row per variant (the first run is eager)."""
    eager = runs[0]
    rows = []
    for run in runs:
        steps = break_even_steps(eager, run)
        loss = max(abs(a - b) for a, b in zip(run.losses, eager.losses, strict=True))
        rows.append({
            "variant": VARIANT_NAMES[run.variant],
            "first step s": f"{run.first:.1f}",
            "later steps s (median)": f"{run.later:.2f}",
            "later steps vs eager": f"{eager.later / run.later:.2f}x",
            "max |loss - eager's|": "identical" if loss == 0 else f"{loss:.1e}",
            "pays off after": "" if run is eager else ("never" if steps is None else f"{steps:.0f} steps"),
        })
    return rows


def slot_rows(runs: list[SlotRun]) -> list[dict[str, str]]:
    """The decode-slots table as plain strings (the first run is the reference)."""
    first = runs[0]
    return [{
        "slots": str(run.slots),
        "seconds": f"{run.seconds:.1f}",
        f"vs {first.slots} slots": f"{first.seconds / run.seconds:.2f}x",
        "identical answers": f"{sum(a == b for a, b in zip(run.answers, first.answers, strict=True))}/{len(first.answers)}",
    } for run in runs]


# ---- the children: one measurement each ----------------------------------------------------------


def _step_child(variant: str, dtype: str, steps: int, model_name: str) -> dict[str, Any]:
    from bench.profile_step import lora_step

    step, batches = lora_step(model_name, dtype, BATCH, steps + 1, dropout=0.0 if variant == "no-dropout" else 0.05,
                              compiled=variant.startswith("compile"))
    seconds, losses = [], []
    for batch in batches:
        started = time.perf_counter()
        losses.append(step(batch))
        seconds.append(time.perf_counter() - started)
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    return asdict(StepRun(variant, dtype, tuple(seconds), tuple(losses), tokens))


def _slots_child(slots: int, dtype: str, model_name: str) -> dict[str, Any]:
    from bench.peers.model import load_lorabench
    from lorabench.config.decoding import DecodingSettings
    from lorabench.config.prompt import PromptSettings
    from lorabench.data.synth import synthesize
    from lorabench.evaluation.runner import evaluate_records
    from lorabench.metrics.scoring import ScoreSettings

    loaded = load_lorabench(dtype, model_name)
    records = synthesize("extractive", 100, 0)
    decoding = DecodingSettings(max_new_tokens=64, batch_size=slots)
    evaluate_records(loaded, records[:2], PromptSettings(), decoding, ScoreSettings())  # warm-up
    started = time.perf_counter()
    outcome = evaluate_records(loaded, records, PromptSettings(), decoding, ScoreSettings())
    seconds = time.perf_counter() - started
    return asdict(SlotRun(dtype, slots, seconds, tuple(row["prediction"] for row in outcome.rows)))


def child(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    kind, value = args.child
    if kind == "slots":
        result = _slots_child(int(value), args.dtype, args.model)
    else:
        result = _step_child(value, args.dtype, args.steps, args.model)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def measure(kind: str, value: str, dtype: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.levers", "--child", kind, value, "--dtype", dtype,
               "--steps", str(args.steps), "--threads", str(args.threads), "--model", args.model]
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(command, cwd=root, env={**os.environ, **env}, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{kind} {value} ({dtype}) failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT_PREFIX):])


# ---- the parent ----------------------------------------------------------------------------------


def show(title: str, rows: list[dict[str, str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("variant",) else "right")
    for row in rows:
        table.add_row(*row.values())
    Console(width=160).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.levers", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="step,slots")
    parser.add_argument("--dtype", default="float32,bfloat16")
    parser.add_argument("--steps", type=int, default=4, help="timed steps after the first")
    parser.add_argument("--variants", default=",".join(STEP_VARIANTS), help="step variants, eager first")
    parser.add_argument("--slots", default=",".join(map(str, SLOTS)), help="slot counts, the reference first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default=ALIAS)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    cases = args.cases.split(",")
    saved: dict[str, Any] = {"threads": args.threads, "model": args.model}
    for dtype in args.dtype.split(","):
        if "step" in cases:
            with tempfile.TemporaryDirectory(prefix="lorabench-levers-inductor-") as cache:
                env = {"TORCHINDUCTOR_CACHE_DIR": cache}  # cold for the first compile, warm for the second
                runs = [StepRun(**{**m, "seconds": tuple(m["seconds"]), "losses": tuple(m["losses"])})
                        for m in (measure("step", v, dtype, args, env) for v in args.variants.split(","))]
            tokens = runs[0].tokens // len(runs[0].seconds)
            show(f"one LoRA training step in {dtype}, batch {BATCH} (~{tokens} tokens), {args.threads} threads, "
                 f"{len(runs[0].seconds)} steps", step_rows(runs))
            saved[f"step {dtype}"] = [asdict(r) for r in runs]
        if "slots" in cases:
            slot_runs = [SlotRun(**{**m, "answers": tuple(m["answers"])})
                         for m in (measure("slots", s, dtype, args, {}) for s in args.slots.split(","))]
            show(f"generation in {dtype}: 100 extractive questions, max 64 new tokens, {args.threads} threads",
                 slot_rows(slot_runs))
            saved[f"slots {dtype}"] = [asdict(r) for r in slot_runs]
    if args.json:
        args.json.write_text(json.dumps(saved, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
