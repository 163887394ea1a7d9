"""Which device and dtype a model runs on: 'auto' and a bare 'cuda' under a multi-process launch."""

from __future__ import annotations

import pytest
import torch

from lorabench.core.errors import LorabenchError
from lorabench.models.device import resolve_device


def test_each_launched_process_gets_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under accelerate launch / torchrun, 'auto' and 'cuda' mean the process's LOCAL_RANK GPU."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda") == "cuda"
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert resolve_device("auto") == "cuda:1" and resolve_device("cuda") == "cuda:1"
    assert resolve_device("cuda:0") == "cuda:0"  # an explicit GPU is kept


def test_a_device_that_is_not_there_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(LorabenchError, match=r"device 'cuda:1' does not exist; 1 GPU\(s\) found"):
        resolve_device("cuda:1")
