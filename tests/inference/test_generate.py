"""Batched greedy generation must write exactly what one-prompt-at-a-time generation writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

import tiny_models
from lorabench.inference import prefix
from lorabench.inference.generate import (
    Generation,
    GenerationSettings,
    batch_order,
    generate,
    generate_naive,
    stop_token_ids,
)
from lorabench.prompts.build import Prompt, encode_prompt

# Word counts chosen so one batch of 4 mixes prompts from a handful to a few hundred tokens.
PROMPT_WORDS = [1, 3, 7, 15, 30, 60, 120, 2, 5, 45, 90, 10]
MAX_NEW = 12


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Models this small gain nothing from threads, and when other test processes share the CPU,
    spinning worker threads make each matmul tens of times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _sharpen(model: torch.nn.Module) -> torch.nn.Module:
    """Large random weights: the freshly initialised tiny models repeat one token whatever the
    prompt, which would let a padding bug through; these write prompt-dependent gibberish."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return model


def _causal(path: Path):
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return _sharpen(model), tokenizer


def _seq2seq(path: Path):
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSeq2SeqLM.from_pretrained(path, dtype=torch.float32)
    return _sharpen(model), tokenizer


def _prompts(tokenizer, use_chat: bool) -> list[Prompt]:
    """Prompts of very different lengths; every third one through the chat template when there is one."""
    words = " ".join(tiny_models.CORPUS).split()
    prompts = []
    for index, count in enumerate(PROMPT_WORDS):
        text = " ".join(words[index : index + count])
        chat = use_chat and index % 3 == 0
        if chat:
            text = tokenizer.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False)
        n_tokens = len(encode_prompt(text, tokenizer, chat))
        prompts.append(Prompt(f"rec-{index}", text, "", chat, n_tokens, False))
    return prompts


def _by_id(generations) -> dict[str, Generation]:
    return {g.record_id: g for g in generations}


def _outcome(g: Generation) -> tuple:
    """Everything but latency, which depends on the batch."""
    return (g.text, g.prompt_tokens, g.generated_tokens, g.stop_reason, g.hit_max_new_tokens)


def _assert_batched_matches_naive(model, tokenizer, prompts, settings, is_seq2seq=False) -> dict[str, Generation]:
    batched = _by_id(generate(model, tokenizer, prompts, settings, is_seq2seq=is_seq2seq))
    naive = _by_id(generate_naive(model, tokenizer, prompts, settings, is_seq2seq=is_seq2seq))
    assert set(batched) == set(naive) == {p.record_id for p in prompts}
    for record_id in naive:
        assert _outcome(batched[record_id]) == _outcome(naive[record_id]), record_id
    return naive


def _first_generated_ids(model, tokenizer, prompt: Prompt) -> list[int]:
    ids = torch.tensor([encode_prompt(prompt.text, tokenizer, prompt.chat)])
    output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=MAX_NEW, do_sample=False)
    return output[0, ids.shape[1] :].tolist()


def test_batched_equals_naive_causal(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)
    results = _assert_batched_matches_naive(model, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=4))
    # The comparison only means something if the outputs depend on the prompt.
    assert len({g.text for g in results.values()}) == len(prompts)
    for prompt in prompts:
        assert results[prompt.record_id].prompt_tokens == prompt.n_tokens
    # Nothing stops this random model, so every row runs to the limit.
    assert all(g.hit_max_new_tokens and g.stop_reason == "max_new_tokens" for g in results.values())
    assert all(g.generated_tokens == MAX_NEW for g in results.values())


def test_batched_equals_naive_when_rows_stop_at_different_steps(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)
    # A token one prompt writes mid-way becomes an extra EOS, the way a checkpoint's
    # generation_config lists several; a character pair another writes becomes a stop string.
    extra_eos = _first_generated_ids(model, tokenizer, prompts[0])[4]
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, extra_eos]
    unstopped = _by_id(generate_naive(model, tokenizer, prompts, GenerationSettings(MAX_NEW)))
    stop = _ascii_pair(unstopped["rec-5"].text)
    settings = GenerationSettings(MAX_NEW, batch_size=4, stop_strings=(stop,))

    results = _assert_batched_matches_naive(model, tokenizer, prompts, settings)
    assert results["rec-0"].stop_reason == "eos" and results["rec-0"].generated_tokens == 5
    assert results["rec-5"].stop_reason == "stop_string" and results["rec-5"].generated_tokens < MAX_NEW
    assert "max_new_tokens" in {g.stop_reason for g in results.values()}
    for g in results.values():
        assert (stop in g.text) == (g.stop_reason == "stop_string")
        assert g.hit_max_new_tokens == (g.stop_reason == "max_new_tokens")
        assert (g.generated_tokens < MAX_NEW) <= (not g.hit_max_new_tokens)
        # A stopped row is a prefix of its unstopped run: the stop cut it, nothing after counted.
        assert unstopped[g.record_id].text.startswith(g.text.rstrip("\ufffd"))


def _ascii_pair(text: str) -> str:
    """Two printable ASCII characters from the middle of `text`, to serve as a stop string."""
    for start in range(len(text) // 3, len(text) - 1):
        pair = text[start : start + 2]
        if pair.isascii() and pair.isprintable():
            return pair
    raise AssertionError(f"no printable ASCII pair in {text!r}")


def test_batched_equals_naive_seq2seq(tiny_seq2seq_path):
    model, tokenizer = _seq2seq(tiny_seq2seq_path)
    prompts = _prompts(tokenizer, use_chat=False)
    results = _assert_batched_matches_naive(
        model, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=4), is_seq2seq=True
    )
    assert len({g.text for g in results.values()}) > 3
    for prompt in prompts:
        assert results[prompt.record_id].prompt_tokens == prompt.n_tokens


def test_forced_eos_stops_at_once(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    # An untied output layer with a huge bias on EOS: EOS wins every step whatever the hidden state.
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.bias.zero_()
        head.bias[tokenizer.eos_token_id] = 1e4
    model.lm_head = head
    prompts = _prompts(tokenizer, use_chat=True)
    for g in generate(model, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=5)):
        assert (g.text, g.generated_tokens, g.stop_reason, g.hit_max_new_tokens) == ("", 1, "eos", False)


def test_progress_order_and_record_ids(tiny_causal_path):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)
    calls: list[int] = []
    results = []
    for g in generate(model, tokenizer, prompts, GenerationSettings(4, batch_size=5), progress=calls.append):
        # The generator must not leave inference mode switched on in the caller's code.
        assert not torch.is_inference_mode_enabled()
        results.append(g)
    assert calls == [5, 5, 2] and sum(calls) == len(prompts)
    lengths = {p.record_id: p.n_tokens for p in prompts}
    assert [g.prompt_tokens for g in results] == sorted(lengths.values(), reverse=True)
    assert all(g.prompt_tokens == lengths[g.record_id] for g in results)
    assert all(g.latency_s > 0 for g in results)

    unsorted = generate(model, tokenizer, prompts, GenerationSettings(4, batch_size=5, sort_by_length=False))
    assert [g.record_id for g in unsorted] == [p.record_id for p in prompts]


def test_stop_token_ids(tiny_causal_path, tiny_seq2seq_path):
    model, tokenizer = _causal(tiny_causal_path)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert stop_token_ids(tokenizer, model) == [im_end]  # <|endoftext|> is unk here, not a stop
    model.generation_config.eos_token_id = [im_end, 7, 9]
    assert stop_token_ids(tokenizer, model) == [im_end, 7, 9]

    model, tokenizer = _seq2seq(tiny_seq2seq_path)
    assert stop_token_ids(tokenizer, model) == [tokenizer.eos_token_id]


def test_settings_are_validated():
    with pytest.raises(ValueError):
        GenerationSettings(0)
    with pytest.raises(ValueError):
        GenerationSettings(8, batch_size=0)
    with pytest.raises(ValueError):
        GenerationSettings(8, stop_strings=("",))


# Shared-prefix batching: several questions on the same passage share the instruction and the
# passage (well over prefix.MIN_SHARED_PREFIX tokens); other prompts share nothing.
INSTRUCTION = "Read the passage, then answer the question in one short sentence."
PASSAGES = [" ".join(tiny_models.CORPUS[i : i + 3]) for i in (0, 6, 12, 24)]
QUESTIONS = [
    "When was the tower completed?",
    "Who wrote Hamlet?",
    "Is the sky blue?",
    "What is 12 + 30?",
    "Which ocean is the largest?",
]
# Questions per passage: groups of different sizes, so batches cut through groups.
QUESTIONS_PER_PASSAGE = [5, 3, 2, 4]


def _shared_prefix_prompts(tokenizer) -> list[Prompt]:
    """Questions on shared passages (the last passage through the chat template), interleaved with
    prompts that share nothing, plus one exact duplicate."""
    texts: list[tuple[str, bool]] = []
    for index, (passage, count) in enumerate(zip(PASSAGES, QUESTIONS_PER_PASSAGE)):
        for question in QUESTIONS[:count]:
            body = f"{INSTRUCTION}\nPassage: {passage}\nQuestion: {question}\nAnswer:"
            chat = index == len(PASSAGES) - 1
            if chat:
                body = tokenizer.apply_chat_template(
                    [{"role": "user", "content": body}], add_generation_prompt=True, tokenize=False
                )
            texts.append((body, chat))
    words = " ".join(tiny_models.CORPUS).split()
    for position, count in zip((3, 9, 15), (4, 40, 90)):
        texts.insert(position, (" ".join(words[position : position + count]), False))
    texts.append(texts[1])
    prompts = []
    for index, (text, chat) in enumerate(texts):
        prompts.append(Prompt(f"shared-{index}", text, "", chat, len(encode_prompt(text, tokenizer, chat)), False))
    return prompts


@pytest.fixture
def prefill_calls(monkeypatch) -> list[int]:
    """Rows of each batch that went through the shared-prefix prefill."""
    calls: list[int] = []
    original = prefix.prefill

    def spy(model, plan, pad_id, device):
        calls.append(len(plan.row_group))
        return original(model, plan, pad_id, device)

    monkeypatch.setattr(prefix, "prefill", spy)
    return calls


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_shared_prefix_equals_naive(tiny_causal_path, prefill_calls, batch_size):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    assert prefix.supports_shared_prefix(model)
    # Rows stop at different steps: an extra EOS one prompt writes early, a stop string another writes.
    extra_eos = _first_generated_ids(model, tokenizer, prompts[0])[3]
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, extra_eos]
    unstopped = _by_id(generate_naive(model, tokenizer, prompts, GenerationSettings(MAX_NEW)))
    stop = _ascii_pair(unstopped["shared-7"].text)
    settings = GenerationSettings(MAX_NEW, batch_size=batch_size, stop_strings=(stop,))

    results = _assert_batched_matches_naive(model, tokenizer, prompts, settings)
    assert len({g.text for g in results.values()}) >= len(prompts) - 2  # the duplicate, and luck
    assert {"eos", "stop_string", "max_new_tokens"} <= {g.stop_reason for g in results.values()}
    for prompt in prompts:
        assert results[prompt.record_id].prompt_tokens == prompt.n_tokens
    if batch_size == 1:
        assert prefill_calls == []  # a single row has nobody to share with
    else:
        assert prefill_calls and sum(prefill_calls) >= len(prompts) // 2


def test_shared_prefix_batches_keep_groups_together(tiny_causal_path, prefill_calls):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    ordered = batch_order(model, tokenizer, prompts, GenerationSettings(4, batch_size=4))
    assert sorted(p.record_id for p in ordered) == sorted(p.record_id for p in prompts)
    # Every passage's questions are adjacent; the prompts sharing nothing come last, longest first.
    passage_of = {
        p.record_id: next((i for i, x in enumerate(PASSAGES) if f"Passage: {x}\n" in p.text), None) for p in prompts
    }
    runs = [passage_of[p.record_id] for p in ordered]
    grouped = [r for r in runs if r is not None]
    assert runs[: len(grouped)] == grouped
    changes = [r for i, r in enumerate(grouped) if i == 0 or r != grouped[i - 1]]
    assert len(changes) == len(set(grouped)) == len(PASSAGES)
    alone = [p.n_tokens for p in ordered[len(grouped) :]]
    assert alone == sorted(alone, reverse=True)

    # `generate` yields in that order, one batch of 4 at a time.
    settings = GenerationSettings(4, batch_size=4)
    assert [g.record_id for g in generate(model, tokenizer, prompts, settings)] == [p.record_id for p in ordered]
    assert prefill_calls and all(rows <= 4 for rows in prefill_calls)


def test_no_shared_prefix_takes_plain_path(tiny_causal_path, prefill_calls):
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _prompts(tokenizer, use_chat=True)  # at most a chat header in common
    _assert_batched_matches_naive(model, tokenizer, prompts, GenerationSettings(MAX_NEW, batch_size=6))
    assert prefill_calls == []
    assert prefix.plan_batch([encode_prompt(p.text, tokenizer, p.chat) for p in prompts]) is None


def test_batch_mixing_groups_and_loners_uses_prefix(tiny_causal_path, prefill_calls):
    """One batch with two groups of different prefix lengths and a short prompt that shares
    nothing: left-padded prefixes, and a row whose prefix columns are all masked."""
    model, tokenizer = _causal(tiny_causal_path)
    prompts = _shared_prefix_prompts(tokenizer)
    chosen = [prompts[i] for i in (0, 1, 2, 3, 10, 11)]  # passage 0 x3, a 4-word loner, passage 2 x2
    encoded = [encode_prompt(p.text, tokenizer, p.chat) for p in chosen]
    plan = prefix.plan_batch(encoded)
    assert plan is not None and len(plan.prefixes) == 2
    assert len({len(p) for p in plan.prefixes}) == 2 and plan.row_prefix[3] == 0
    settings = GenerationSettings(MAX_NEW, batch_size=len(chosen), sort_by_length=False)
    _assert_batched_matches_naive(model, tokenizer, chosen, settings)
    assert prefill_calls == [len(chosen)]


def test_identical_prompts_share_all_but_their_last_token(tiny_causal_path, prefill_calls):
    """No padding anywhere: `generate` drops an all-ones mask, and must still feed only the suffix."""
    model, tokenizer = _causal(tiny_causal_path)
    prompt = _shared_prefix_prompts(tokenizer)[0]
    twins = [prompt, Prompt("twin", prompt.text, "", prompt.chat, prompt.n_tokens, False)]
    plan = prefix.plan_batch([encode_prompt(p.text, tokenizer, p.chat) for p in twins])
    assert plan is not None and plan.row_prefix == [prompt.n_tokens - 1] * 2
    results = _assert_batched_matches_naive(model, tokenizer, twins, GenerationSettings(MAX_NEW, batch_size=2))
    assert results["twin"].text == results[prompt.record_id].text
    assert prefill_calls == [2]
