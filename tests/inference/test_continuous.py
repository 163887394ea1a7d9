"""Continuous batching must write exactly what one-prompt-at-a-time generation writes."""

from __future__ import annotations

import logging

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AttentionInterface, AutoModelForCausalLM

from lorabench.inference import continuous
from lorabench.inference.generate import GenerationSettings, generate, generate_naive
from lorabench.prompts.build import Prompt, encode_prompt
from tests.inference.test_generate import (
    MAX_NEW,
    _ascii_pair,
    _by_id,
    _causal,
    _first_generated_ids,
    _one_thread,  # noqa: F401  (its autouse fixture: one torch thread for these tiny models)
    _outcome,
    _prompts,
    _seq2seq,
    _sharpen,
    _shared_prefix_prompts,
)


@pytest.fixture(autouse=True)
def _no_fallback(monkeypatch, request):
    """Falling back to padded batches would make every comparison here pass without testing the engine."""
    if "falls_back" in request.node.name:
        return

    def refuse(*args, **kwargs):
        raise AssertionError("continuous.generate fell back to padded batches")

    monkeypatch.setattr(continuous.batched, "generate", refuse)


def _assert_matches_naive(model, tokenizer, prompts, settings) -> dict:
    ours = _by_id(continuous.generate(model, tokenizer, prompts, settings))
    naive = _by_id(generate_naive(model, tokenizer, prompts, settings))
    assert set(ours) == set(naive) == {p.record_id for p in prompts}
    for record_id in naive:
        assert _outcome(ours[record_id]) == _outcome(naive[record_id]), record_id
    return naive


def _stopping(model, tokenizer, prompts, stop_source: str, max_new: int = MAX_NEW) -> GenerationSettings:
    """Rows that end at different steps: an extra EOS the first prompt writes early, and a stop
    string `stop_source` writes mid-way."""
    extra_eos = _first_generated_ids(model, tokenizer, prompts[0])[3]
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, extra_eos]
    unstopped = _by_id(generate_naive(model, tokenizer, prompts, GenerationSettings(max_new)))
    return GenerationSettings(max_new, stop_strings=(_ascii_pair(unstopped[stop_source].text),))


@pytest.mark.parametrize("batch_size", [1, 3, 4, 16])
def test_equals_naive_on_prompts_of_every_length(tiny_causal_path, batch_size):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)
    stops = _stopping(model, tokenizer, prompts, "rec-5")
    settings = GenerationSettings(MAX_NEW, batch_size=batch_size, stop_strings=stops.stop_strings)
    results = _assert_matches_naive(model, tokenizer, prompts, settings)
    assert len({g.text for g in results.values()}) == len(prompts)
    assert {"eos", "stop_string", "max_new_tokens"} <= {g.stop_reason for g in results.values()}


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_shared_prefixes_are_computed_once_and_equal_naive(tiny_causal_path, monkeypatch, batch_size):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    stops = _stopping(model, tokenizer, prompts, "shared-7")
    reused: list[int] = []
    load = continuous.SlotCache.load_prefix
    monkeypatch.setattr(continuous.SlotCache, "load_prefix", lambda self, row, saved: (reused.append(row), load(self, row, saved)))
    computed: list[int] = []
    forward = continuous._Engine._forward

    def spy(self, rows, copies, running):
        reused.extend(target for _, target, _ in copies)
        computed.extend(len(row.tokens) for row in rows[running:])
        return forward(self, rows, copies, running)

    monkeypatch.setattr(continuous._Engine, "_forward", spy)
    settings = GenerationSettings(MAX_NEW, batch_size=batch_size, stop_strings=stops.stop_strings)
    _assert_matches_naive(model, tokenizer, prompts, settings)
    # 15 questions on 4 passages (a duplicate among them): 11 take their passage's prefix instead of computing it.
    assert len(reused) == 15 - 4
    assert sum(computed) < sum(p.n_tokens for p in prompts) - 11 * 32


def test_a_duplicate_and_a_one_token_budget(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    twin = Prompt("twin", prompts[0].text, "", prompts[0].chat, prompts[0].n_tokens, False)
    results = _assert_matches_naive(model, tokenizer, [*prompts, twin], GenerationSettings(1, batch_size=4))
    assert all(g.generated_tokens == 1 for g in results.values())
    assert results["twin"].text == results[prompts[0].record_id].text


def test_guesses_are_kept_only_where_the_model_agrees(tiny_causal_path, monkeypatch):
    """An oracle stands in for prompt lookup: the true continuation for some rows, one wrong token
    in it for others. Kept guesses must skip steps; a wrong one must change nothing."""
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    stops = _stopping(model, tokenizer, prompts, "shared-7")
    truth = {}
    for index, prompt in enumerate(prompts):
        ids = encode_prompt(prompt.text, tokenizer, prompt.chat)
        truth[tuple(ids)] = (index, _first_generated_ids(model, tokenizer, prompt))
    counts = {"drafted": 0, "kept": 0}

    def oracle(self, limit):
        for ids, (index, continuation) in truth.items():
            if tuple(self.sequence[: len(ids)]) == ids:
                done = len(self.sequence) - len(ids)
                guess = list(continuation[done : done + limit])
                if index % 2 and len(guess) > 2:
                    guess[2] = (guess[2] + 1) % tokenizer.vocab_size
                return guess
        raise AssertionError("a sequence of no prompt")

    kept = continuous._Lookup.kept

    def counted(self, drafted, accepted):
        counts["drafted"] += drafted
        counts["kept"] += accepted
        kept(self, drafted, accepted)

    monkeypatch.setattr(continuous._Lookup, "draft", oracle)
    monkeypatch.setattr(continuous._Lookup, "kept", counted)
    settings = GenerationSettings(MAX_NEW, batch_size=5, stop_strings=stops.stop_strings)
    _assert_matches_naive(model, tokenizer, prompts, settings)
    assert counts["kept"] > len(prompts) and counts["kept"] < counts["drafted"]


def test_prompt_lookup_guesses_what_followed_the_last_tokens():
    lookup = continuous._Lookup([5, 6, 7, 8, 9, 6, 7])
    assert lookup.draft(3) == [8, 9, 6]  # "6 7" was followed by "8 9 6"
    assert lookup.draft(1) == [8]
    lookup.extend([1])
    assert lookup.draft(4) == []  # "7 1" never occurred
    lookup.kept(4, 4)
    assert lookup.budget == 2 * continuous.FIRST_DRAFT
    lookup.kept(4, 1)
    assert lookup.budget == continuous.FIRST_DRAFT


def test_adapter_and_eager_attention_equal_naive(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False, task_type="CAUSAL_LM")
    tuned = get_peft_model(model, config)
    prompts = _shared_prefix_prompts(tokenizer)[:8]
    assert continuous.supported(tuned)
    results = _assert_matches_naive(tuned, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=3))
    with tuned.disable_adapter():
        base = _by_id(generate_naive(tuned, tokenizer, prompts, GenerationSettings(MAX_NEW)))
    assert any(results[k].text != base[k].text for k in results)  # the adapter was applied

    eager = _sharpen(AutoModelForCausalLM.from_pretrained(tiny_causal_path, dtype=torch.float32, attn_implementation="eager"))
    assert continuous.supported(eager)
    _assert_matches_naive(eager, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=3))
    assert eager.config._attn_implementation == "eager"


def test_progress_latency_and_inference_mode(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)
    calls: list[int] = []
    before = model.config._attn_implementation
    for g in continuous.generate(model, tokenizer, prompts, GenerationSettings(4, batch_size=5), progress=calls.append):
        assert not torch.is_inference_mode_enabled()
        assert model.config._attn_implementation == before  # ours only inside a forward
        assert g.latency_s > 0
    assert sum(calls) == len(prompts)
    assert list(continuous.generate(model, tokenizer, [], GenerationSettings(4))) == []


def test_a_model_that_bypasses_the_engine_falls_back_to_padded_batches(tiny_causal_path, monkeypatch, caplog):
    """If attention did not go through `slot_attention` as it should, the first forward's logits
    would differ from a plain forward's: then the whole pass runs on `generate.generate`."""
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)

    def ignores_history(module, query, key, value, attention_mask, **kwargs):
        return torch.zeros_like(query).transpose(1, 2), None

    monkeypatch.setitem(AttentionInterface._global_mapping, continuous.ATTENTION_NAME, ignores_history)
    settings = GenerationSettings(MAX_NEW, batch_size=4)
    with caplog.at_level(logging.WARNING, logger="lorabench.inference.continuous"):
        ours = [_outcome(g) for g in continuous.generate(model, tokenizer, prompts, settings)]
    assert ours == [_outcome(g) for g in generate(model, tokenizer, prompts, settings)]
    assert "continuous batching is off for this model" in caplog.text


def test_supported_models(tiny_causal_path, tiny_seq2seq_path):
    model, _ = _causal(tiny_causal_path)
    assert continuous.supported(model)
    model.generation_config.suppress_tokens = [5]  # model.generate would never write token 5; argmax might
    assert not continuous.supported(model)
    model.generation_config.suppress_tokens = None
    model.config._attn_implementation = "flex_attention"
    assert not continuous.supported(model)
    seq2seq, _ = _seq2seq(tiny_seq2seq_path)
    assert not continuous.supported(seq2seq)
