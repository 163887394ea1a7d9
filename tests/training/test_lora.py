"""LoRA targets: a name that matches no layer is refused with the layers' names, before any training."""

from __future__ import annotations

import pytest
import torch

from lorabench.core.errors import LorabenchError
from lorabench.training.lora import check_target_modules, linear_module_names


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q_proj, self.v_proj = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4)
        self.norm = torch.nn.LayerNorm(4)


class _Toy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4)
        self.layers = torch.nn.ModuleList([_Block(), _Block()])
        self.lm_head = torch.nn.Linear(4, 10)


def test_targets_match_a_layer_name_or_its_dotted_suffix():
    model = _Toy()
    assert linear_module_names(model) == ["lm_head", "q_proj", "v_proj"]
    check_target_modules(model, ["q_proj", "embed", "layers.0.v_proj"])  # linear, embedding, full-name suffix
    check_target_modules(model, "all-linear")
    with pytest.raises(LorabenchError) as refused:
        check_target_modules(model, ["q_proj", "norm", "k_proj"])
    assert str(refused.value) == (
        "lora.target_modules ['norm', 'k_proj'] match no layer of this model; its linear layers are named: "
        "lm_head, q_proj, v_proj (or use 'all-linear')"
    )
