"""How lorabench's cost grows with the work: wall time and peak memory at several sizes, and the exponent.

    python -m bench.scaling [--sizes full|quick] [--cases mc,gen,train,study] [--model NAME] [--dtype D] [--json PATH]

Cases (full sizes), each on the same model and lorabench's synthetic data:

- `mc`: multiple choice scored by log-probability (`evaluate_records`, the loop of `lorabench eval`,
  choice_mode logprob) on 100, 400 and 1,600 items;
- `gen`: greedy generation on extractive questions (several per passage, as in SQuAD) on 100, 400
  and 1,600 items;
- `train`: LoRA training (`train_adapter`, the code of `lorabench train`: r 16 on all linear layers,
  batch 8, one epoch, no validation) on 200 and 800 examples;
- `study`: `lorabench.study` over 1, 2 and 4 cells (training seeds), each cell a whole run.

Every measurement runs in a fresh Python process, so memory one size allocated never serves the
next and each peak is its own: the parent waits for it with `os.wait4`, whose resource usage is
that one child's (`getrusage(RUSAGE_CHILDREN)` would report the largest child so far). The time is
the work alone, measured inside the child after imports and model loading (a constant that says
nothing about growth): for the study, the whole `lorabench.study` call, its model loads included,
since each cell loads its own.

The growth exponent k of each case is the least-squares slope of log(seconds) on log(size), so
time ~ size^k: k near 1 is linear, above 1 something grows faster than the work. The table also
extrapolates each evaluation to SQuAD v1.1's 10,570 dev questions and training to its 87,599
training questions, from the largest size measured: a prediction, only as good as the exponent.

`--sizes quick` runs tiny sizes (a smoke run, seconds on a tiny model: `--model FOLDER`); its figures
say nothing. Timing needs a quiet machine: nothing else running, the same threads for every case.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.cases import case_list

ALIAS = "smollm2-135m-instruct"
CASES = ("mc", "gen", "train", "study")
SIZES: dict[str, dict[str, tuple[int, ...]]] = {
    "full": {"mc": (100, 400, 1600), "gen": (100, 400, 1600), "train": (200, 800), "study": (1, 2, 4)},
    "quick": {"mc": (4, 8), "gen": (4, 8), "train": (8, 16), "study": (1, 2)},
}
UNITS = {"mc": "items", "gen": "items", "train": "examples", "study": "cells"}
# What a user would run next: SQuAD v1.1's dev and train questions (extrapolated, not measured).
SQUAD = {"mc": (10_570, "SQuAD v1.1 dev"), "gen": (10_570, "SQuAD v1.1 dev"), "train": (87_599, "SQuAD v1.1 train")}
# The study's split and cell size, fixed so that only the number of cells changes.
STUDY = {"full": {"items": 96, "test": 24, "validation": 8}, "quick": {"items": 40, "test": 8, "validation": 4}}
RESULT_PREFIX = "SCALING_RESULT "


@dataclass(frozen=True)
class Measurement:
    case: str
    size: int
    seconds: float  # the work, timed inside the child
    peak_rss_mib: float  # the whole child process's peak resident memory
    process_seconds: float  # the child's wall time, start-up and model loading included


@dataclass(frozen=True)
class Growth:
    case: str
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]
    peak_rss_mib: tuple[float, ...]
    exponent: float

    def extrapolate(self, size: int) -> float:
        """Seconds at `size`, from the largest size measured and the fitted exponent."""
        return self.seconds[-1] * (size / self.sizes[-1]) ** self.exponent


def growth_exponent(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """k of time ~ size^k: the least-squares slope of log(seconds) on log(size)."""
    if len(sizes) != len(seconds) or len(set(sizes)) < 2:
        raise ValueError("the exponent needs at least two different sizes, each with its time")
    if min(sizes) <= 0 or min(seconds) <= 0:
        raise ValueError("sizes and times must be positive to take their logarithms")
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in seconds]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def fit(case: str, measurements: Sequence[Measurement]) -> Growth:
    ordered = sorted((m for m in measurements if m.case == case), key=lambda m: m.size)
    sizes = tuple(m.size for m in ordered)
    seconds = tuple(m.seconds for m in ordered)
    return Growth(case, sizes, seconds, tuple(m.peak_rss_mib for m in ordered), growth_exponent(sizes, seconds))


def table_rows(growths: Sequence[Growth]) -> list[dict[str, str]]:
    """The printed table as plain strings, one row per case (pure, so a test reads it without rich)."""
    rows = []
    for g in growths:
        squad = SQUAD.get(g.case)
        rows.append({
            "case": g.case,
            "sizes": " / ".join(f"{s:,}" for s in g.sizes) + f" {UNITS[g.case]}",
            "seconds": " / ".join(f"{t:.2f}" if t < 10 else f"{t:.1f}" for t in g.seconds),
            "k (time ~ n^k)": f"{g.exponent:.2f}",
            "peak RSS MiB": " / ".join(f"{m:.0f}" for m in g.peak_rss_mib),
            "extrapolated": f"{_duration(g.extrapolate(squad[0]))} at {squad[0]:,} ({squad[1]})" if squad else "",
        })
    return rows


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _rss_mib(maxrss: int) -> float:
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    return maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


# ---- the parent: one child per measurement -------------------------------------------------------


def measure(case: str, size: int, args: argparse.Namespace) -> Measurement:
    """Run one case at one size in a fresh process; its peak RSS comes from wait4 on that process."""
    command = [sys.executable, "-m", "bench.scaling", "--child", case, str(size), "--model", args.model,
               "--dtype", args.dtype, "--threads", str(args.threads), "--sizes", args.sizes]
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryFile("w+") as output:
        started = time.perf_counter()
        child = subprocess.Popen(command, cwd=root, stdout=output, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        elapsed = time.perf_counter() - started
        output.seek(0)
        text = output.read()
    results = [line for line in text.splitlines() if line.startswith(RESULT_PREFIX)]
    if child.returncode != 0 or not results:
        raise RuntimeError(f"{case} at {size} failed (exit {child.returncode}):\n{text[-3000:]}")
    seconds = json.loads(results[-1].removeprefix(RESULT_PREFIX))["seconds"]
    return Measurement(case, size, seconds, _rss_mib(usage.ru_maxrss), elapsed)


# ---- the child: the work of one case at one size ---------------------------------------------------


def _loaded(args: argparse.Namespace) -> Any:
    from lorabench.models.load import ModelSpec, load_model

    return load_model(ModelSpec(name=args.model, device="cpu", dtype=args.dtype))


def _evaluate(case: str, size: int, args: argparse.Namespace) -> float:
    from lorabench.config.decoding import DecodingSettings
    from lorabench.data.synth import synthesize
    from lorabench.evaluation.runner import evaluate_records
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.prompts.build import PromptSettings

    loaded = _loaded(args)
    task = "choice" if case == "mc" else "extractive"
    decoding = DecodingSettings(batch_size=16, **({"choice_mode": "logprob"} if case == "mc" else {}))
    records = synthesize(task, size, seed=0)
    evaluate_records(loaded, records[:2], PromptSettings(), decoding, ScoreSettings())  # warm-up, untimed
    started = time.perf_counter()
    evaluate_records(loaded, records, PromptSettings(), decoding, ScoreSettings())
    return time.perf_counter() - started


def _train(size: int, args: argparse.Namespace) -> float:
    from lorabench.config.decoding import DecodingSettings
    from lorabench.config.settings import LoraSettings, TrainSettings
    from lorabench.data.synth import synthesize
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.prompts.build import PromptSettings
    from lorabench.training.train import train_adapter

    loaded = _loaded(args)
    training = TrainSettings(epochs=1, batch_size=8, val_metric_items=0, eval_every=10**9, save_every=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        result = train_adapter(
            loaded, synthesize("extractive", size, seed=0), [], Path(tmp), PromptSettings(),
            LoraSettings(r=16, target_modules="all-linear"), training, DecodingSettings(), ScoreSettings(),
        )
    return result.train_seconds


def study_config(cells: int, model: str, dtype: str, data: Path, out: Path, sizes: str) -> dict[str, Any]:
    """A study whose cells differ only in the training seed, on one fixed split."""
    split = STUDY[sizes]
    return {
        "model": {"name": model, "dtype": dtype, "device": "cpu"},
        "task": "extractive",
        "data": {"source": str(data), "split": {"test": split["test"], "validation": split["validation"], "seed": 0}},
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
        "training": {"epochs": 1, "batch_size": 8, "val_metric_items": 0, "logging_steps": 4},
        "decoding": {"batch_size": 8, "max_new_tokens": 32},
        "out": str(out),
        "sweep": {"seeds": list(range(cells))},
    }


def _study(cells: int, args: argparse.Namespace) -> float:
    import lorabench
    from lorabench.data.records import save_records
    from lorabench.data.synth import synthesize

    with tempfile.TemporaryDirectory() as tmp:
        data = save_records(synthesize("extractive", STUDY[args.sizes]["items"], seed=0), Path(tmp) / "qa.jsonl")
        config = study_config(cells, args.model, args.dtype, data, Path(tmp) / "study", args.sizes)
        started = time.perf_counter()
        lorabench.study(config, say=lambda _: None)
        return time.perf_counter() - started


def child(case: str, size: int, args: argparse.Namespace) -> None:
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if case in ("mc", "gen"):
        seconds = _evaluate(case, size, args)
    elif case == "train":
        seconds = _train(size, args)
    else:
        seconds = _study(size, args)
    print(RESULT_PREFIX + json.dumps({"case": case, "size": size, "seconds": seconds}), flush=True)


# ---- the command -------------------------------------------------------------------------------------


def show(growths: Sequence[Growth], header: str) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = table_rows(growths)
    table = Table(title=header, title_justify="left")
    for column in rows[0]:
        table.add_column(column, justify="right" if column.startswith("k ") else "left")
    for row in rows:
        table.add_row(*row.values())
    Console(width=200).print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", choices=sorted(SIZES), default="full", help="full: the issue's sizes; quick: a smoke run")
    parser.add_argument("--cases", type=case_list(CASES), default=list(CASES), help="comma-separated: mc,gen,train,study")
    parser.add_argument("--model", default=ALIAS, help="alias, hub id or model folder (default: the packaged SmolLM2)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="model.dtype of every case")
    parser.add_argument("--threads", type=int, default=2, help="torch threads in every case")
    parser.add_argument("--json", type=Path, help="also write every measurement and fit here")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args)
        return 0

    from bench.peers.result import cpu_model

    measurements = []
    for case in args.cases:
        for size in SIZES[args.sizes][case]:
            measured = measure(case, size, args)
            print(f"{case} at {size:,} {UNITS[case]}: {measured.seconds:.1f} s, peak RSS {measured.peak_rss_mib:.0f} MiB "
                  f"(process {measured.process_seconds:.1f} s)", flush=True)
            measurements.append(measured)
    growths = [fit(case, measurements) for case in args.cases]
    header = (f"How cost grows: {args.model} in {args.dtype}, {args.threads} threads, {cpu_model()}"
              + (" (quick sizes: a smoke run, not a result)" if args.sizes == "quick" else ""))
    show(growths, header)
    if args.json:
        report = {"header": header, "measurements": [asdict(m) for m in measurements],
                  "growth": [{**asdict(g), "table": row} for g, row in zip(growths, table_rows(growths))]}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
