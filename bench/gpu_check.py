"""What lorabench does on one CUDA GPU, checked in one command (under 8 minutes, no network).

    python -m bench.gpu_check [--json results.json]

The packaged models are too large to carry to a lent GPU machine, so this builds random-weight
llama models from a config (the tokenizer `tests/tiny_models.py` trains offline on a few sentences)
and checks on `cuda`, in bfloat16 and again in float16 (`model.dtype`):

1. generation: lorabench's continuous engine, padded batches and one prompt at a time give the
   same text on every item (counted, not assumed: half-precision kernels may flip a near tie
   between a batch of one and a batch of many); tokens/s of each;
2. LoRA training: a few optimizer steps (`train_adapter`, the code of `lorabench train`: bf16 or
   fp16 autocast over weights of that dtype, the adapter in float32): finite loss, adapter weights
   moved, base weights untouched; tokens/s;
3. vLLM, when the machine has it (its wheels are too large to carry): the vllm backend against the
   hf backend on the same bfloat16 weights, with and without an adapter (option scores through
   `prompt_logprobs`, which vLLM's CUDA LoRA path serves).

Each check also reports its peak memory: `torch.cuda.max_memory_allocated` since the check began
(on the CPU smoke run, the process's peak resident memory so far). Without a CUDA GPU it says so in
one line and exits 2 having run nothing. `--cpu-smoke` runs the same code on the CPU in float32 and
bfloat16 with a small model, to catch a broken script before a GPU is lent (its figures say nothing
about a GPU).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

TESTS = Path(__file__).resolve().parent.parent / "tests"
MEDIUM = {"hidden_size": 1024, "num_layers": 8, "max_positions": 4096}  # ~100M parameters with the tiny vocabulary
SMALL = {"hidden_size": 256, "num_layers": 2, "max_positions": 4096}
N_ITEMS = 48
MAX_NEW_TOKENS = 32
BATCH = 16
TRAIN_STEPS = 16
# Set by main: cuda for the check, cpu (and its dtypes) for --cpu-smoke.
RUN: dict[str, Any] = {"device": "cuda", "dtypes": ("bfloat16", "float16"), "shape": MEDIUM}


def _models(root: Path) -> Path:
    sys.path.insert(0, str(TESTS))
    import tiny_models

    return tiny_models.build_tiny_causal(root / "model", **RUN["shape"])


def _load(folder: Path, dtype: str, adapter: str | None = None) -> Any:
    from lorabench.models.load import ModelSpec, load_model

    return load_model(ModelSpec(name=str(folder), device=RUN["device"], dtype=dtype), adapter=adapter)


def _reset_peak() -> None:
    if RUN["device"] == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_mib() -> float:
    """GPU memory allocated at the peak since `_reset_peak`; on the CPU the process's peak RSS so far."""
    if RUN["device"] == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _sync() -> None:
    if RUN["device"] == "cuda":
        torch.cuda.synchronize()


def _timed_generations(run: Any) -> tuple[dict[str, Any], float]:
    _sync()
    started = time.perf_counter()
    out = {g.record_id: g for g in run()}
    _sync()
    return out, time.perf_counter() - started


def check_generation(folder: Path, dtype: str) -> dict[str, Any]:
    from lorabench.data.synth import synthesize
    from lorabench.inference import continuous
    from lorabench.inference.generate import GenerationSettings, generate, generate_naive
    from lorabench.prompts.build import PromptSettings, build_prompt

    loaded = _load(folder, dtype)
    records = synthesize("extractive", N_ITEMS, seed=0)
    prompts = [build_prompt(r, loaded.tokenizer, PromptSettings()) for r in records]
    # No stop strings: a random model would stop within a token or two, and tokens/s would mean nothing.
    settings = GenerationSettings(max_new_tokens=MAX_NEW_TOKENS, batch_size=BATCH)
    model, tokenizer = loaded.model, loaded.tokenizer
    runs = {
        "one at a time": lambda: generate_naive(model, tokenizer, prompts, settings),
        "padded batches": lambda: generate(model, tokenizer, prompts, settings),
    }
    if continuous.supported(model):
        runs["continuous"] = lambda: continuous.generate(model, tokenizer, prompts, settings)
    generate(model, tokenizer, prompts[:2], settings)  # warm-up: CUDA context, kernels
    results: dict[str, Any] = {"items": N_ITEMS, "continuous_supported": continuous.supported(model)}
    baseline: dict[str, Any] | None = None
    for name, run in runs.items():
        out, seconds = _timed_generations(run)
        baseline = baseline or out
        tokens = sum(g.generated_tokens for g in out.values())
        same = sum(out[i].text == baseline[i].text for i in baseline)
        results[name] = {"seconds": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 1), "same_text_as_one_at_a_time": same}
    return results


def check_training(folder: Path, out: Path, dtype: str) -> dict[str, Any]:
    from lorabench.data.synth import synthesize
    from lorabench.config.decoding import DecodingSettings
    from lorabench.metrics.scoring import ScoreSettings
    from lorabench.prompts.build import PromptSettings
    from lorabench.config.settings import LoraSettings, TrainSettings
    from lorabench.training.train import train_adapter

    loaded = _load(folder, dtype)
    before = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    records = synthesize("extractive", 64, seed=1)
    training = TrainSettings(
        max_steps=TRAIN_STEPS, batch_size=8, logging_steps=4, val_metric_items=0, save_every=1000
    )  # training.bf16 auto: bf16 autocast over bfloat16 weights, fp16 autocast over float16 ones on CUDA
    result = train_adapter(
        loaded, records, [], out / f"train_{dtype}", PromptSettings(), LoraSettings(target_modules="all-linear"),
        training, DecodingSettings(), ScoreSettings(),
    )
    from safetensors.torch import load_file

    adapter = load_file(str(result.adapter_dir / "adapter_model.safetensors"))
    moved = sum(bool(t.abs().sum() > 0) for name, t in adapter.items() if "lora_B" in name)
    untouched = all(torch.equal(before[k], v) for k, v in loaded.model.state_dict().items())
    meta = json.loads((result.adapter_dir / "lorabench.json").read_text())
    return {
        "precision": meta.get("precision"),
        "steps": result.steps,
        "train_loss": result.train_loss,
        "tokens_per_s": round(result.tokens_per_second, 1),
        "lora_B_matrices_moved": f"{moved}/{sum('lora_B' in n for n in adapter)}",
        "base_weights_untouched": untouched,
        "adapter_dir": str(result.adapter_dir),
    }


def check_vllm(folder: Path, adapter_dir: str, dtype: str) -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vLLM is not installed here (its CUDA wheels, ~1 GB with torch, cannot be carried)"}
    from lorabench.inference import get_backend
    from lorabench.inference.base import GenerationRequest, OptionRequest, option_continuations
    from lorabench.inference.hf import HFBackend
    from lorabench.data.synth import synthesize
    from lorabench.config.decoding import DecodingSettings, VLLMSettings
    from lorabench.prompts.answers import STOP_STRINGS
    from lorabench.prompts.build import PromptSettings, build_prompt

    decoding = DecodingSettings(backend="vllm", vllm=VLLMSettings(gpu_memory_utilization=0.5, kv_cache_gb=1, max_model_len=4096))
    results: dict[str, Any] = {}
    for name, adapter in (("base", None), ("adapter", adapter_dir)):
        loaded = _load(folder, dtype, adapter)
        hf, vllm = HFBackend(loaded), get_backend("vllm", loaded, decoding)
        records = synthesize("extractive", 16, seed=2)
        stops = STOP_STRINGS[records[0].task]
        requests = [GenerationRequest(build_prompt(r, hf.tokenizer, PromptSettings()), MAX_NEW_TOKENS, stops) for r in records]
        ours = {g.record_id: g.text for g in vllm.generate(requests, BATCH)}
        theirs = {g.record_id: g.text for g in hf.generate(requests, BATCH)}
        choice = synthesize("choice", 16, seed=2)
        prompts = [build_prompt(r, hf.tokenizer, PromptSettings()) for r in choice]
        option_requests = [OptionRequest(p, tuple(option_continuations(r, p)), tuple(r.labels)) for r, p in zip(choice, prompts)]
        diffs = [
            max(abs(a - b) for a, b in zip(o.sum_logprob, t.sum_logprob))
            for o, t in zip(vllm.score_options(option_requests), hf.score_options(option_requests))
        ]
        results[name] = {
            "same_text_as_hf": f"{sum(ours[i] == theirs[i] for i in theirs)}/{len(theirs)}",
            "max_option_logprob_diff": round(max(diffs), 4),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--cpu-smoke", action="store_true", help="the same code on the CPU with a small model (no GPU figures)")
    args = parser.parse_args(argv)
    if args.cpu_smoke:
        global N_ITEMS, TRAIN_STEPS
        RUN.update(device="cpu", dtypes=("float32", "bfloat16"), shape=SMALL)
        N_ITEMS, TRAIN_STEPS = 4, 2
    elif not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible here; it checks lorabench's GPU paths, so it ran nothing (exit 2)")
        return 2
    started = time.perf_counter()
    device = torch.cuda.get_device_name(0) if RUN["device"] == "cuda" else "cpu (smoke run: no GPU figures)"
    results: dict[str, Any] = {"device": device, "dtypes": list(RUN["dtypes"]), "torch": torch.__version__}
    first = RUN["dtypes"][0]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        folder = _models(root)
        checks = [
            check
            for dtype in RUN["dtypes"]
            for check in (
                (f"generation_{dtype}", lambda dtype=dtype: check_generation(folder, dtype)),
                (f"lora_training_{dtype}", lambda dtype=dtype: check_training(folder, root, dtype)),
            )
        ]
        checks.append(("vllm", lambda: check_vllm(folder, results[f"lora_training_{first}"].get("adapter_dir", ""), first)))
        for name, check in checks:
            _reset_peak()
            try:
                results[name] = check()
            except Exception as error:  # one failed check must not hide the others' figures
                results[name] = {"error": f"{type(error).__name__}: {error}"}
            results[name]["peak_memory_mib"] = _peak_mib()
            print(name, json.dumps(results[name], indent=1), flush=True)
        what = "torch.cuda.max_memory_allocated per check" if RUN["device"] == "cuda" else "process peak RSS so far"
        peaks = ", ".join(f"{name} {results[name]['peak_memory_mib']:.0f}" for name, _ in checks)
        print(f"peak memory MiB ({what}): {peaks}", flush=True)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"gpu_check done in {results['seconds']} s")
    return 1 if any("error" in v for v in results.values() if isinstance(v, dict)) else 0


if __name__ == "__main__":
    sys.exit(main())
