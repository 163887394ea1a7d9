"""LoRA wrapping: which modules an adapter can target, and the peft model around a loaded base."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from transformers import set_seed

from lorabench.config.settings import LoraSettings, TrainSettings
from lorabench.core.errors import LorabenchError
from lorabench.models.load import LoadedModel, TokenizerAndConfig

# ---- LoRA -------------------------------------------------------------------------------------


def _adaptable(module: torch.nn.Module) -> bool:
    """Layer kinds peft's LoRA can wrap (GPT-2 style models use transformers' Conv1D for linears)."""
    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d)
    return isinstance(module, kinds) or type(module).__name__ == "Conv1D"


def linear_module_names(model: Any) -> list[str]:
    """Distinct last names of the model's linear layers (q_proj, ...), the usual target_modules."""
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if name and (isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D")
    }
    return sorted(names)


def check_target_modules(model: Any, targets: list[str] | str) -> None:
    """LorabenchError when a target names no layer (peft matches a full name or its '.'-suffix)."""
    if targets == "all-linear":
        return
    names = [name for name, module in model.named_modules() if name and _adaptable(module)]
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if missing:
        available = linear_module_names(model)
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise LorabenchError(
            f"lora.target_modules {missing} match no layer of this model; its linear layers are named: "
            f"{shown} (or use 'all-linear')"
        )


def meta_model(spec_model: TokenizerAndConfig, trust_remote_code: bool) -> Any:
    """The model's modules with no storage behind them: shapes and names, for checks and counts."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    auto = AutoModelForSeq2SeqLM if spec_model.is_seq2seq else AutoModelForCausalLM
    with torch.device("meta"):
        return auto.from_config(spec_model.config, trust_remote_code=trust_remote_code)


def lora_parameter_count(model: Any, targets: list[str] | str, r: int) -> int:
    """Trainable LoRA weights: r x (inputs + outputs) per adapted linear layer. 'all-linear' is every
    linear layer but the output head, as peft reads it."""
    head = model.get_output_embeddings()
    total = 0
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is head:
            continue
        if targets == "all-linear" or any(name == t or name.endswith("." + t) for t in targets):
            total += r * (module.in_features + module.out_features)
    return total


def wrap_with_lora(loaded: LoadedModel, lora: LoraSettings, training: TrainSettings) -> Any:
    """A trainable peft model around `loaded.model`; the base weights stay frozen."""
    from peft import LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training

    check_target_modules(loaded.model, lora.target_modules)
    model = loaded.model
    if loaded.spec.load_in_4bit:
        # QLoRA: norms to float32 and input grads on, so gradients flow through the frozen 4-bit layers.
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=training.grad_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        bias="none",
        task_type=TaskType.SEQ_2_SEQ_LM if loaded.is_seq2seq else TaskType.CAUSAL_LM,
    )
    set_seed(training.seed)  # LoRA's A matrices are drawn from the global RNG
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            return get_peft_model(model, config)  # peft still asks the deprecated name
    except ValueError as error:
        raise LorabenchError(f"could not add LoRA to this model: {error}") from None
