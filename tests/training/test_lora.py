"""LoRA targets: a name that matches no layer is refused with the layers' names, before any training."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model

from lorabench.core.errors import LorabenchError
from lorabench.models.load import ModelSpec, load_model, load_tokenizer
from lorabench.training.lora import check_target_modules, linear_module_names, lora_parameter_count, meta_model


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


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], "all-linear"])
def test_lora_parameters_are_counted_as_peft_counts_them(tiny_causal_path, targets):
    meta = meta_model(load_tokenizer(ModelSpec(name=str(tiny_causal_path))), trust_remote_code=False)
    real = load_model(ModelSpec(name=str(tiny_causal_path), device="cpu")).model
    peft_model = get_peft_model(real, LoraConfig(r=4, lora_alpha=8, target_modules=targets))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert lora_parameter_count(meta, targets, 4) == trainable
    # No weights behind the meta model, yet the same parameter count as the loaded one.
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for n, p in real.named_parameters() if "lora" not in n)
