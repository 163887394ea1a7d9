"""Which device a model runs on and in which dtype, as `model.device` and `model.dtype` ask:
decided the same way for loading a model and for planning a run (`run --dry-run`)."""

from __future__ import annotations

import os

import torch

from lorabench.core.errors import LorabenchError


def _launched_gpu() -> str:
    """'cuda', or under `accelerate launch` / `torchrun` this process's own GPU: every rank on
    'cuda' would mean every rank on GPU 0."""
    local_rank = os.environ.get("LOCAL_RANK")
    return f"cuda:{int(local_rank) % max(torch.cuda.device_count(), 1)}" if local_rank is not None else "cuda"


def resolve_device(device: str) -> str:
    """Turn 'auto' (and a bare 'cuda' under a multi-process launch) into this process's device,
    and check an explicit one exists."""
    if device == "auto":
        if torch.cuda.is_available():
            return _launched_gpu()
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if device == "cuda" and torch.cuda.is_available():
        device = _launched_gpu()
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise LorabenchError(f"device '{device}' requested but CUDA is not available; use device: cpu")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise LorabenchError(
                f"device '{device}' does not exist; {torch.cuda.device_count()} GPU(s) found"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise LorabenchError("device 'mps' requested but MPS is not available; use device: cpu")
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """'auto' means bfloat16 on CUDA (float16 on GPUs without bf16) and float32 elsewhere:
    CPUs without AMX run bfloat16 matmuls far slower than float32."""
    if dtype != "auto":
        return getattr(torch, dtype)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32
