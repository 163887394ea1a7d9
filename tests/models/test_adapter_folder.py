"""An adapter folder saved by train_adapter works elsewhere: tokenizer inside, base named portably."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from lorabench.models.adapter_folder import read_adapter_meta, set_base_reference
from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model, resolve_source
from lorabench.prompts.build import PromptSettings
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter


@pytest.fixture(scope="module")
def trained(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An adapter trained on a base named by a relative path, as a user in the base's parent folder types it."""
    records = synthesize("extractive", 8, seed=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tiny_causal_path.parent)
        loaded = load_model(ModelSpec(name=tiny_causal_path.name))
        result = train_adapter(
            loaded, records, [], tmp_path_factory.mktemp("train"), PromptSettings(max_prompt_tokens=128),
            LoraSettings(r=4, alpha=8), TrainSettings(max_steps=2, batch_size=4, lr=5e-2, val_metric_items=0, save_every=1000),
            DecodingSettings(max_new_tokens=4), ScoreSettings(),
        )
    return tiny_causal_path, result.adapter_dir


def test_adapter_folder_holds_the_tokenizer_and_no_blank_peft_card(trained) -> None:
    base, adapter = trained
    for name in ("tokenizer.json", "tokenizer_config.json", "adapter_model.safetensors", "lorabench.json"):
        assert (adapter / name).is_file(), name
    assert not (adapter / "README.md").exists()  # peft's template named the local folder; report.model_card writes the card
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    trained_with = load_model(ModelSpec(name=str(base))).tokenizer
    assert tokenizer.pad_token == trained_with.pad_token != tokenizer.eos_token  # the repaired pad token travels too
    assert tokenizer("Where is Velka?")["input_ids"] == trained_with("Where is Velka?")["input_ids"]


def test_adapter_config_names_the_base_as_it_was_given(trained) -> None:
    base, adapter = trained
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == base.name  # relative, as typed; not the resolved absolute path


def test_plain_peft_loads_the_adapter_on_another_copy_of_the_base(trained, tmp_path: Path) -> None:
    base, adapter = trained
    elsewhere = shutil.copytree(base, tmp_path / "base")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(elsewhere), shutil.copytree(adapter, tmp_path / "a"))
    ours = load_model(ModelSpec(name=str(base)), adapter=str(adapter))
    ids = ours.tokenizer("Question: Where did Velka grow up? Answer:", return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(model.eval()(**ids).logits, ours.model(**ids).logits, atol=1e-5)


def test_a_hub_base_is_named_by_its_hub_id_and_revision(tiny_causal_path: Path, tmp_path: Path) -> None:
    source = resolve_source("HuggingFaceTB/SmolLM2-135M-Instruct", revision="v1")  # no network: nothing is loaded
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_causal_path), LoraConfig(r=2, target_modules=["q_proj"]))
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"] == str(tiny_causal_path)
    set_base_reference(tmp_path, source.name, source.revision)
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "HuggingFaceTB/SmolLM2-135M-Instruct" and config["revision"] == "v1"
    assert config["r"] == 2  # the rest of the config as peft wrote it


def test_lorabench_json_problems_are_named(trained, tmp_path: Path) -> None:
    _, adapter = trained
    with pytest.raises(LorabenchError, match="adapter folder not found"):
        read_adapter_meta(tmp_path / "nowhere")
    with pytest.raises(LorabenchError, match="not a LoRA adapter folder"):
        read_adapter_meta(tmp_path)
    copy = shutil.copytree(adapter, tmp_path / "copy")
    (copy / "lorabench.json").write_text(json.dumps({"task": "extractive"}))
    with pytest.raises(LorabenchError, match="lorabench.json: lacks prompt, lora, base_model"):
        read_adapter_meta(copy)
    (copy / "lorabench.json").write_text(json.dumps({"task": "extractive", "prompt": [], "lora": {}, "base_model": {}}))
    with pytest.raises(LorabenchError, match="lorabench.json: prompt: not a JSON object"):
        read_adapter_meta(copy)
    (copy / "adapter_config.json").write_text("[1, 2")
    with pytest.raises(LorabenchError, match="adapter_config.json:1: not valid JSON"):
        read_adapter_meta(copy)
