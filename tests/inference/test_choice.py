"""Multiple-choice scoring: the shared-prompt fast path must equal the naive per-option forwards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from lorabench.tasks.choice import ChoiceRecord
from lorabench.core.errors import LorabenchError
from lorabench.inference.choice import (
    OptionScores,
    option_continuations,
    score_letters,
    score_options,
    score_options_naive,
)
from lorabench.prompts.build import PromptSettings, build_prompt, encode_prompt, encode_target

# Options chosen so that, with the tiny tokenizer, they span 1 to 6 tokens (checked below).
RECORDS = [
    ChoiceRecord(
        id="q1", question="What is the capital of Japan?", options=["Tokyo", "Paris", "the", "sea level"], answer="A"
    ),
    ChoiceRecord(
        id="q2",
        question="Which colour is the sky?",
        options=["blue", "red", "capital", "Hamlet", "yellow"],
        answer="A",
        context="Is the sky blue? Yes, on a clear day it is.",
    ),
    ChoiceRecord(id="q3", question="Pick one word.", options=["is", "the"], answer="B"),  # all one token
]
TOL = 1e-4


@pytest.fixture(scope="module")
def causal(tiny_causal_path: Path):
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_causal_path)


@pytest.fixture(scope="module")
def seq2seq(tiny_seq2seq_path: Path):
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_seq2seq_path, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_seq2seq_path)


def _prompt(record: ChoiceRecord, tokenizer, chat: bool):
    return build_prompt(record, tokenizer, PromptSettings(chat_template="on" if chat else "off"))


def _assert_close(fast: OptionScores, naive: OptionScores) -> None:
    assert fast.labels == naive.labels and fast.n_tokens == naive.n_tokens and fast.n_chars == naive.n_chars
    for name in ("sum_logprob", "mean_logprob", "char_logprob"):
        assert getattr(fast, name) == pytest.approx(getattr(naive, name), abs=TOL), name


@pytest.mark.parametrize("kind,chat", [("causal", False), ("causal", True), ("seq2seq", False)])
def test_shared_prompt_equals_naive(kind: str, chat: bool, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(kind)
    lengths: set[int] = set()
    for record in RECORDS:
        prompt = _prompt(record, tokenizer, chat)
        continuations = option_continuations(record, prompt)
        args = (model, tokenizer, prompt, continuations, record.labels, kind == "seq2seq")
        fast, naive = score_options(*args), score_options_naive(*args)
        _assert_close(fast, naive)
        assert fast.record_id == record.id
        assert all(s < 0 for s in fast.sum_logprob)
        lengths.update(fast.n_tokens)
    assert min(lengths) == 1 and max(lengths) >= 5  # the padding and single-token paths were both exercised


def test_option_tokens_are_the_training_targets(causal) -> None:
    model, tokenizer = causal
    record = RECORDS[0]
    prompt = _prompt(record, tokenizer, chat=False)
    scores = score_options(model, tokenizer, prompt, option_continuations(record, prompt), record.labels)
    assert scores.n_tokens == [len(encode_target(o, tokenizer, False)) for o in record.options]
    assert scores.n_chars == [len(o) for o in record.options]


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_letters_equal_one_naive_forward(kind: str, request: pytest.FixtureRequest) -> None:
    model, tokenizer = request.getfixturevalue(kind)
    record = RECORDS[1]
    # Chat mode encodes letters as "A", "B", ...: one token each, so the single-forward path runs.
    # The tiny T5 has no chat template, so its plain prompt is just marked chat for that effect.
    prompt = replace(_prompt(record, tokenizer, chat=kind == "causal"), chat=True)
    letters = score_letters(model, tokenizer, prompt, record.labels, is_seq2seq=kind == "seq2seq")
    ids = torch.tensor([encode_prompt(prompt.text, tokenizer, prompt.chat)])
    with torch.no_grad():
        if kind == "seq2seq":
            start = torch.tensor([[model.config.decoder_start_token_id]])
            logits = model(input_ids=ids, decoder_input_ids=start).logits
        else:
            logits = model(input_ids=ids).logits
    expected = torch.log_softmax(logits[0, -1], dim=-1)
    for label in record.labels:
        (token,) = encode_target(label, tokenizer, prompt.chat)
        assert letters[label] == pytest.approx(float(expected[token]), abs=TOL)


def test_multi_token_letters_fall_back_to_exact_sequence_scores(causal) -> None:
    model, tokenizer = causal
    record = RECORDS[0]
    prompt = _prompt(record, tokenizer, chat=False)
    assert len(encode_target("B", tokenizer, False)) > 1  # " B" is two tokens in the tiny vocabulary
    letters = score_letters(model, tokenizer, prompt, record.labels)
    naive = score_options_naive(model, tokenizer, prompt, record.labels, record.labels)
    assert [letters[label] for label in record.labels] == pytest.approx(naive.sum_logprob, abs=TOL)


def test_naive_projects_only_the_option_positions(causal) -> None:
    """The baseline runs one full prompt + option forward per option, but asks for logits only
    where option tokens are predicted, and still gets the full-logits scores."""
    model, tokenizer = causal
    record = RECORDS[0]
    prompt = _prompt(record, tokenizer, chat=True)
    continuations = option_continuations(record, prompt)
    seen: list[tuple[int, int]] = []

    def record_call(module, args, kwargs):
        seen.append((kwargs["input_ids"].shape[1], kwargs.get("logits_to_keep", 0)))

    handle = model.register_forward_pre_hook(record_call, with_kwargs=True)
    try:
        naive = score_options_naive(model, tokenizer, prompt, continuations, record.labels)
    finally:
        handle.remove()
    prompt_ids = encode_prompt(prompt.text, tokenizer, prompt.chat)
    options = [encode_target(text, tokenizer, prompt.chat) for text in continuations]
    assert seen == [(len(prompt_ids) + len(ids), len(ids) + 1) for ids in options]
    for ids, score in zip(options, naive.sum_logprob):
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids + ids])).logits[0]
        logprobs = torch.log_softmax(logits, dim=-1)
        expected = sum(float(logprobs[len(prompt_ids) - 1 + j, token]) for j, token in enumerate(ids))
        assert score == pytest.approx(expected, abs=TOL)


def test_prediction_is_argmax_per_normalization() -> None:
    # Each normalization picks a different option: short C on sum, B per token, long A per character.
    scores = OptionScores("r", ["A", "B", "C"], [-4.0, -3.0, -2.0], n_tokens=[4, 6, 1], n_chars=[20, 6, 3])
    assert scores.prediction("sum") == "C"
    assert scores.mean_logprob == [-1.0, -0.5, -2.0]
    assert scores.prediction("mean") == "B"
    assert scores.char_logprob == pytest.approx([-0.2, -0.5, -2.0 / 3])
    assert scores.prediction("char") == "A"
    tie = OptionScores("r", ["A", "B"], [-1.0, -1.0], [1, 1], [1, 1])
    assert tie.prediction() == "A"
    with pytest.raises(LorabenchError, match="normalization"):
        scores.prediction("bogus")


def _biased_head(model, token_ids: list[int], bias: float) -> None:
    """Untie the output layer and give it a bias that strongly favours `token_ids`."""
    old = model.get_output_embeddings()
    head = torch.nn.Linear(old.in_features, old.out_features, bias=True)
    with torch.no_grad():
        head.weight.copy_(old.weight)
        head.bias.zero_()
        head.bias[token_ids] = bias
    model.lm_head = head


def test_forced_option_is_predicted(tiny_causal_path: Path) -> None:
    model = AutoModelForCausalLM.from_pretrained(tiny_causal_path, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_causal_path)
    record = ChoiceRecord(id="forced", question="Capital of Italy?", options=["Tokyo", "Paris", "blue"], answer="B")
    prompt = _prompt(record, tokenizer, chat=False)
    favoured = encode_target("Paris", tokenizer, False)
    others = {t for o in ("Tokyo", "blue") for t in encode_target(o, tokenizer, False)}
    assert not set(favoured) & others
    _biased_head(model, favoured, 30.0)
    scores = score_options(model, tokenizer, prompt, option_continuations(record, prompt), record.labels)
    for normalization in ("sum", "mean", "char"):
        assert scores.prediction(normalization) == "B"

    chat_prompt = _prompt(record, tokenizer, chat=True)
    _biased_head(model, encode_target("C", tokenizer, True), 30.0)
    letters = score_letters(model, tokenizer, chat_prompt, record.labels)
    assert max(letters, key=letters.get) == "C"
    assert letters["C"] > -1e-3  # nearly all the probability mass


@pytest.mark.parametrize("chat", [False, True])
def test_empty_continuation_is_an_error_naming_the_record(causal, chat: bool) -> None:
    model, tokenizer = causal
    record = RECORDS[0]
    prompt = _prompt(record, tokenizer, chat)
    for scorer in (score_options, score_options_naive):
        with pytest.raises(LorabenchError, match=r"record q1: option B is empty"):
            scorer(model, tokenizer, prompt, ["Tokyo", "", "the", "x"], record.labels)


def test_continuations_belong_to_their_prompt(causal) -> None:
    _, tokenizer = causal
    prompt = _prompt(RECORDS[0], tokenizer, chat=False)
    assert option_continuations(RECORDS[0], prompt) == RECORDS[0].options
    with pytest.raises(LorabenchError, match="record q2"):
        option_continuations(RECORDS[1], prompt)
