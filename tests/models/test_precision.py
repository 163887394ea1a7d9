"""models.precision: native bfloat16 read off the CPU's flags, the measured product, and the dry run's lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lorabench.config.settings import ModelSpec
from lorabench.models.precision import (
    CpuPrecision,
    MatmulComparison,
    PrecisionPlan,
    bf16_features,
    cpu_flags,
    detect_cpu_precision,
    matmul_gflops,
    plan_precision,
)

EPYC = "processor\t: 0\nmodel name\t: AMD EPYC 9R14\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni\n"
SAPPHIRE = "processor\t: 0\nflags\t\t: avx512f avx512_bf16 amx_bf16 amx_tile amx_int8\n"
OLD = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"


@pytest.mark.parametrize(("cpuinfo", "features"), [(EPYC, ("AVX512-BF16",)), (SAPPHIRE, ("AMX-BF16", "AVX512-BF16")), (OLD, ())],
                         ids=["avx512-bf16", "amx", "none"])
def test_native_bf16_is_read_off_the_flags(tmp_path: Path, cpuinfo: str, features: tuple[str, ...]) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    detected = detect_cpu_precision(path)
    assert detected.features == features and detected.native_bf16 == bool(features)
    assert detected.describe().startswith("native bfloat16 on this CPU") == bool(features)


def test_a_system_without_cpuinfo_is_unknown_not_unsupported(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "missing") is None
    detected = detect_cpu_precision(tmp_path / "missing")
    assert not detected.known and "unknown" in detected.describe()


def test_arm_features_line_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cpuinfo"
    path.write_text("processor\t: 0\nFeatures\t: fp asimd bf16 sve\n")
    assert cpu_flags(path) == {"fp", "asimd", "bf16", "sve"}
    assert bf16_features(cpu_flags(path) or set()) == ()  # only the x86 flags are named today


def test_the_measured_product_is_quick_and_positive() -> None:
    rate = matmul_gflops(torch.bfloat16, (64, 64, 64), seconds=0.01)
    assert rate > 0


def test_a_measured_plan_times_a_training_and_a_decoding_product() -> None:
    plan = plan_precision(ModelSpec(name="x", device="cpu"))
    assert plan.matmul is not None and plan.decode is not None and plan.decode.shape == (16, 576, 1536)
    assert plan.matmul.float32_gflops > 0 and plan.matmul.bfloat16_gflops > 0


def test_dry_run_lines_say_what_switching_to_bf16_buys() -> None:
    plan = PrecisionPlan("auto", "float32", "cpu", CpuPrecision(("AMX-BF16",)), MatmulComparison(200.0, 440.0),
                         MatmulComparison(100.0, 90.0, (16, 576, 1536)))
    lines = plan.lines()
    assert lines[0] == "precision: float32 (model.dtype auto on cpu)"
    assert lines[1] == "  native bfloat16 on this CPU (AMX-BF16)"
    assert lines[2] == "  a 512x576x1536 matmul (training, prompts) ran at 200 GFLOP/s in float32 and 440 in bfloat16 here (2.2x)"
    assert lines[3] == "  a 16x576x1536 matmul (decoding 16 answers) ran at 100 GFLOP/s in float32 and 90 in bfloat16 here (0.9x)"
    assert "model.dtype: bfloat16 would run the training-sized products up to 2.2x faster" in lines[4]


def test_dry_run_lines_warn_when_bf16_is_slower() -> None:
    plan = PrecisionPlan("bfloat16", "bfloat16", "cpu", CpuPrecision(()), MatmulComparison(200.0, 50.0))
    lines = plan.lines()
    assert lines[0] == "precision: bfloat16"
    assert "4.0x slower than float32" in lines[-1]


def test_auto_plans_float32_on_the_cpu_so_the_demo_is_unchanged() -> None:
    plan = plan_precision(ModelSpec(name="x", device="cpu"), measure=False)
    assert (plan.setting, plan.dtype, plan.device, plan.matmul, plan.decode) == ("auto", "float32", "cpu", None, None)
    assert plan.cpu is not None
    assert plan_precision(ModelSpec(name="x", device="cpu", dtype="bfloat16"), measure=False).dtype == "bfloat16"


def test_a_training_pass_records_weights_autocast_and_adapter_dtypes() -> None:
    from types import SimpleNamespace

    from lorabench.models.precision import training_precision

    model = torch.nn.Linear(2, 2).to(torch.bfloat16)
    model.weight.requires_grad_(False)
    adapter = torch.nn.Linear(2, 2)  # float32, trainable, as peft keeps LoRA weights
    both = torch.nn.ModuleList([model, adapter])
    loaded = SimpleNamespace(dtype=torch.bfloat16)
    assert training_precision(SimpleNamespace(bf16=True, fp16=False), loaded, both) == {
        "weights": "bfloat16", "autocast": "bfloat16", "adapter": "bfloat16, float32",  # the frozen layer's bias trains
    }
    model.bias.requires_grad_(False)
    assert training_precision(SimpleNamespace(bf16=False, fp16=True), loaded, both)["adapter"] == "float32"
    assert training_precision(SimpleNamespace(bf16=False, fp16=False), loaded, both)["autocast"] is None
