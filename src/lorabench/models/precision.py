"""Which floating-point precision a run computes in, what the CPU offers, and what the other one would buy.

`model.dtype: auto` keeps float32 on a CPU even where bfloat16 is native (AVX512-BF16, AMX), so the
demo's table is the same on every machine; bfloat16 answers can differ from float32 ones on near
ties. `run --dry-run` says which precision a run uses and, on a CPU, measures one matrix product of a
small model's shape in both precisions (a fraction of a second) so the user sees what switching buys
on this machine rather than a rule of thumb. `training_precision` records what a training pass
computed in, beside the adapter.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from lorabench.models.device import resolve_device, resolve_dtype
from lorabench.config.settings import ModelSpec
from lorabench.models.load import LoadedModel

if TYPE_CHECKING:
    from transformers import TrainingArguments

# /proc/cpuinfo flag -> the name CPU vendors use for it.
_BF16_FLAGS = {"amx_bf16": "AMX-BF16", "avx512_bf16": "AVX512-BF16"}
# SmolLM2-135M's MLP product over a 512-token batch (what training and prompts run) and over 16 rows
# (one decoding step of 16 answers): bfloat16's gain shrinks, or turns into a loss, on the small one.
MATMUL_SHAPE = (512, 576, 1536)
DECODE_SHAPE = (16, 576, 1536)


def bf16_features(flags: Iterable[str]) -> tuple[str, ...]:
    """The native bfloat16 instruction sets among a CPU's flags (as /proc/cpuinfo lists them), AMX first."""
    present = set(flags)
    return tuple(name for flag, name in _BF16_FLAGS.items() if flag in present)


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The first processor's flags, or None where the system has no /proc/cpuinfo (macOS, Windows)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 says flags, ARM says Features
            return set(value.split())
    return set()


@dataclass(frozen=True)
class CpuPrecision:
    """What the CPU offers for bfloat16: its native instruction sets, and whether they could be read at all."""

    features: tuple[str, ...]
    known: bool = True

    @property
    def native_bf16(self) -> bool:
        return bool(self.features)

    def describe(self) -> str:
        if not self.known:
            return "native bfloat16 support unknown (no /proc/cpuinfo to read)"
        if self.features:
            return f"native bfloat16 on this CPU ({', '.join(self.features)})"
        return "no native bfloat16 on this CPU (no AVX512-BF16 or AMX): bfloat16 runs emulated"


def detect_cpu_precision(cpuinfo: Path = Path("/proc/cpuinfo")) -> CpuPrecision:
    flags = cpu_flags(cpuinfo)
    return CpuPrecision(bf16_features(flags), known=True) if flags is not None else CpuPrecision((), known=False)


def matmul_gflops(dtype: torch.dtype, shape: tuple[int, int, int] = MATMUL_SHAPE, seconds: float = 0.15) -> float:
    """GFLOP/s of `torch.mm` at `shape` (m, k, n) in `dtype` on the CPU: calls repeated for about
    `seconds` after one untimed warm-up; at least one timed call, however slow."""
    m, k, n = shape
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(m, k, generator=generator).to(dtype)
    b = torch.randn(k, n, generator=generator).to(dtype)
    torch.mm(a, b)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls == 0:
        torch.mm(a, b)
        calls += 1
    return 2 * m * k * n * calls / elapsed / 1e9


@dataclass(frozen=True)
class MatmulComparison:
    """One product's rate in float32 and in bfloat16, measured back to back on this CPU."""

    float32_gflops: float
    bfloat16_gflops: float
    shape: tuple[int, int, int] = MATMUL_SHAPE

    @property
    def bf16_speedup(self) -> float:
        return self.bfloat16_gflops / self.float32_gflops


def compare_matmul(shape: tuple[int, int, int] = MATMUL_SHAPE, seconds: float = 0.1) -> MatmulComparison:
    return MatmulComparison(matmul_gflops(torch.float32, shape, seconds), matmul_gflops(torch.bfloat16, shape, seconds), shape)


@dataclass(frozen=True)
class PrecisionPlan:
    """The precision a model spec resolves to, and on a CPU what the other precision would buy."""

    setting: str  # model.dtype as written: auto | float32 | bfloat16 | float16
    dtype: str  # what it resolves to on `device`
    device: str
    cpu: CpuPrecision | None = None  # CPU runs only
    matmul: MatmulComparison | None = None  # CPU runs only: a training-sized product
    decode: MatmulComparison | None = None  # CPU runs only: a decoding-sized one

    def lines(self) -> list[str]:
        """Plain lines for `run --dry-run`."""
        chosen = "" if self.setting == self.dtype else f" (model.dtype {self.setting} on {self.device})"
        lines = [f"precision: {self.dtype}{chosen}"]
        if self.cpu is None or self.matmul is None:
            return lines
        lines.append(f"  {self.cpu.describe()}")
        measured = [(self.matmul, "training, prompts")] + ([(self.decode, "decoding 16 answers")] if self.decode else [])
        for product, use in measured:
            m, k, n = product.shape
            lines.append(f"  a {m}x{k}x{n} matmul ({use}) ran at {product.float32_gflops:.0f} GFLOP/s in float32 and "
                         f"{product.bfloat16_gflops:.0f} in bfloat16 here ({product.bf16_speedup:.1f}x)")
        gain = self.matmul.bf16_speedup
        if self.dtype == "float32" and gain > 1.1:
            lines.append(f"  model.dtype: bfloat16 would run the training-sized products up to {gain:.1f}x faster; "
                         "its answers can differ from float32 ones, so compare runs of one precision only")
        elif self.dtype == "bfloat16" and gain < 1:
            lines.append(f"  bfloat16 is {1 / gain:.1f}x slower than float32 on this CPU; model.dtype: float32 would be faster")
        return lines


def plan_precision(spec: ModelSpec, measure: bool = True) -> PrecisionPlan:
    """Resolve `spec.dtype` on its device; on a CPU also detect native bfloat16 and, with `measure`,
    time a training-sized and a decoding-sized product in both precisions (under half a second)."""
    device = resolve_device(spec.device)
    dtype = str(resolve_dtype(spec.dtype, device)).removeprefix("torch.")
    if device != "cpu":
        return PrecisionPlan(spec.dtype, dtype, device)
    if not measure:
        return PrecisionPlan(spec.dtype, dtype, device, detect_cpu_precision())
    return PrecisionPlan(spec.dtype, dtype, device, detect_cpu_precision(), compare_matmul(), compare_matmul(DECODE_SHAPE))


def training_precision(args: TrainingArguments, loaded: LoadedModel, model: Any) -> dict[str, str | None]:
    """What a training pass computed in, for its record: the base weights' dtype, the autocast dtype
    (None: none), and the dtype of the trainable (LoRA) weights, which peft keeps in float32."""
    trainable = {str(p.dtype).removeprefix("torch.") for p in model.parameters() if p.requires_grad}
    return {
        "weights": str(loaded.dtype).removeprefix("torch."),
        "autocast": "bfloat16" if args.bf16 else "float16" if args.fp16 else None,
        "adapter": ", ".join(sorted(trainable)) or None,
    }
