from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from lorabench.comparison.prompt_change import (
    adapter_prompt_difference,
    prompt_change_refusal,
    trained_prompt_settings,
)
from lorabench.config.prompt import PromptSettings
from lorabench.core.errors import LorabenchError
from lorabench.data.synth import synthesize
from lorabench.prompts.build import resolve_prompt
from tests.tiny_models import build_seq2seq_tokenizer

# A model whose window is 4096 tokens: prompts are fitted to it, as a run's are.
MODEL = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=4096, is_encoder_decoder=False))


def _adapter(folder, settings: PromptSettings):
    (folder / "lorabench.json").write_text(json.dumps({"prompt": settings.model_dump(mode="json")}), encoding="utf-8")
    return folder


def test_an_adapter_made_elsewhere_records_no_prompt_settings_and_a_damaged_record_is_refused(tmp_path):
    assert trained_prompt_settings(tmp_path) is None
    (tmp_path / "lorabench.json").write_text('{"task": "math"}', encoding="utf-8")
    with pytest.raises(LorabenchError, match=r"lorabench\.json: no readable prompt settings"):
        trained_prompt_settings(tmp_path)


def test_the_adapters_training_prompts_are_compared_with_the_evaluations_fitted_to_one_model(tmp_path):
    tokenizer, records = build_seq2seq_tokenizer(), synthesize("math", 3, seed=0)
    adapter = _adapter(tmp_path, PromptSettings())
    same = resolve_prompt(PromptSettings(), MODEL, 32)
    assert adapter_prompt_difference(adapter, records, tokenizer, MODEL, same) is None
    assert adapter_prompt_difference(adapter, [], tokenizer, MODEL, resolve_prompt(PromptSettings(answer_prefix="A:"), MODEL, 32)) is None

    changed = adapter_prompt_difference(adapter, records, tokenizer, MODEL, resolve_prompt(PromptSettings(answer_prefix="A:"), MODEL, 32))
    assert (changed.record_id, changed.part, changed.trained, changed.now) == (records[0].id, "prompt", "Answer:", "A:")

    extractive = synthesize("extractive", 2, seed=0)
    strategy = adapter_prompt_difference(adapter, extractive, tokenizer, MODEL, resolve_prompt(PromptSettings(strategy="batch"), MODEL, 32))
    assert (strategy.record_id, strategy.part, strategy.trained, strategy.now) == (extractive[0].id, "prompt.strategy", "single", "batch")


def test_the_refusal_names_the_adapters_record_the_difference_and_the_way_out(tmp_path):
    tokenizer, records = build_seq2seq_tokenizer(), synthesize("math", 2, seed=0)
    adapter = _adapter(tmp_path, PromptSettings())
    difference = adapter_prompt_difference(adapter, records, tokenizer, MODEL, resolve_prompt(PromptSettings(answer_prefix="A:"), MODEL, 32))
    message = str(prompt_change_refusal(adapter, difference, "; or train again"))
    assert message.startswith(f"prompt settings differ from the adapter's training ({adapter / 'lorabench.json'}): ")
    assert difference.describe() in message and message.endswith("to evaluate anyway; or train again")
    assert "allow_prompt_change" in message
