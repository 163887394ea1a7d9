"""Training examples: the prompt part is the evaluation prompt, only the answer and its end are learned."""

from __future__ import annotations

import pytest
import torch

from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptBuilder, PromptSettings, build_prompt, encode_prompt, encode_target
from lorabench.training.examples import (
    IGNORE_INDEX,
    LengthGroupedEpochSampler,
    PadCollator,
    answer_end_id,
    encode_example,
)

SETTINGS = PromptSettings(max_prompt_tokens=160)


@pytest.fixture(scope="module")
def causal(tiny_causal_path):
    return load_model(ModelSpec(name=str(tiny_causal_path)))


@pytest.fixture(scope="module")
def seq2seq(tiny_seq2seq_path):
    return load_model(ModelSpec(name=str(tiny_seq2seq_path)))


@pytest.fixture(scope="module")
def record():
    return synthesize("extractive", 1, seed=5)[0]


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_causal_example_is_eval_prompt_then_learned_answer_and_end(causal, record, chat_template):
    settings = SETTINGS.model_copy(update={"chat_template": chat_template})
    tokenizer = causal.tokenizer
    prompt = build_prompt(record, tokenizer, settings)
    prompt_ids = encode_prompt(prompt.text, tokenizer, prompt.chat)
    example = encode_example(record, tokenizer, settings, is_seq2seq=False)

    n = len(prompt_ids)
    assert example.input_ids[:n] == prompt_ids and example.prompt_tokens == n
    assert example.labels[:n] == [IGNORE_INDEX] * n
    answer = example.labels[n:]
    assert IGNORE_INDEX not in answer and answer == example.input_ids[n:]
    assert answer[:-1] == encode_target(record.answers[0], tokenizer, prompt.chat)
    assert answer[-1] == tokenizer.eos_token_id  # <|im_end|>: both EOS and the template's end of turn
    assert example.learned_tokens == len(answer) and not example.answer_truncated


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_a_chat_record_learns_only_its_final_assistant_turn(causal, chat_template):
    from lorabench.tasks.open_answers import OpenRecord

    record = OpenRecord(id="c1", instruction="And its length?", response="About 40 km.", history=[
        {"role": "user", "content": "Name a river."}, {"role": "assistant", "content": "The Oslet."}])
    settings = SETTINGS.model_copy(update={"chat_template": chat_template})
    example = encode_example(record, causal.tokenizer, settings, is_seq2seq=False)
    learned = [label for label in example.labels if label != IGNORE_INDEX]
    assert causal.tokenizer.decode(learned).strip() == "About 40 km.<|im_end|>"
    assert "The Oslet." in causal.tokenizer.decode(example.input_ids[: example.prompt_tokens])


def test_seq2seq_example_is_prompt_in_answer_plus_eos_out(seq2seq, record):
    tokenizer = seq2seq.tokenizer
    prompt = build_prompt(record, tokenizer, SETTINGS)
    example = encode_example(record, tokenizer, SETTINGS, is_seq2seq=True)
    assert example.input_ids == encode_prompt(prompt.text, tokenizer, prompt.chat)
    assert example.labels == encode_target(record.answers[0], tokenizer, prompt.chat) + [tokenizer.eos_token_id]


def test_answer_is_cut_to_the_limit_and_an_example_with_nothing_to_learn_is_an_error(causal, record):
    full = encode_example(record, causal.tokenizer, SETTINGS, is_seq2seq=False)
    cut = encode_example(record, causal.tokenizer, SETTINGS, False, max_length=full.prompt_tokens + 2)
    assert cut.input_ids == full.input_ids[: full.prompt_tokens + 2]
    assert cut.learned_tokens == 2 and cut.answer_truncated
    with pytest.raises(LorabenchError, match=record.id):
        encode_example(record, causal.tokenizer, SETTINGS, False, max_length=full.prompt_tokens)


def test_answer_end_is_the_templates_end_of_turn_when_chatting(causal):
    tokenizer = causal.tokenizer
    assert answer_end_id(tokenizer, chat=True) == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert answer_end_id(tokenizer, chat=False) == tokenizer.eos_token_id


def test_collator_pads_right_with_pad_id_and_ignored_labels():
    batch = PadCollator(pad_id=0)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]


def test_seq2seq_inputs_and_labels_are_padded_to_their_own_lengths():
    batch = PadCollator(pad_id=0)([{"input_ids": [5, 6, 7], "labels": [9]}, {"input_ids": [8], "labels": [1, 2]}])
    assert batch["input_ids"].shape == (2, 3) and batch["labels"].tolist() == [[9, -100], [1, 2]]


def test_length_grouped_order_depends_only_on_seed_and_epoch():
    lengths = [5, 50] * 16
    sampler = LengthGroupedEpochSampler(lengths, group_size=2, seed=3)
    first = list(sampler)
    torch.manual_seed(123)  # the global RNG must not matter
    assert list(sampler) == first and sorted(first) == list(range(32))
    orders = set()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = list(sampler)
        orders.add(tuple(order))
        mixed = sum(lengths[order[k]] != lengths[order[k + 1]] for k in range(0, 32, 2))
        # sorted within mega-batches of 8: at most one short+long pair each; a shuffle would give ~8
        assert mixed <= 4
    assert len(orders) == 3  # each epoch reshuffles


# ---- multi-question strategies -------------------------------------------------------------------

from lorabench.tasks.extractive import ExtractiveRecord  # noqa: E402
from lorabench.prompts.sequential import start_conversation, turn_prompt  # noqa: E402
from lorabench.training.examples import encode_examples  # noqa: E402

_CONTEXT = "Velmora lies on the Oslet river. It was founded in 1842 by Anna Brell."
GROUP = [
    ExtractiveRecord(id="q1", context=_CONTEXT, question="When was Velmora founded?", answers=["1842"]),
    ExtractiveRecord(id="q2", context=_CONTEXT, question="Who founded Velmora?", answers=["Anna Brell"]),
    ExtractiveRecord(id="q3", context=_CONTEXT, question="Who is the mayor?", answers=[], unanswerable=True),
]
OTHER = ExtractiveRecord(id="r1", context="Tokyo is the capital of Japan.", question="Capital of Japan?", answers=["Tokyo"])


def _learned_spans(example, tokenizer) -> list[str]:
    """The learned label tokens, decoded run by run (special tokens kept)."""
    spans, current = [], []
    for label in example.labels + [IGNORE_INDEX]:
        if label != IGNORE_INDEX:
            current.append(label)
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    return spans


@pytest.mark.parametrize("chat_template, lead", [("auto", ""), ("off", " ")])
def test_batch_example_learns_only_the_numbered_answers_and_end(causal, chat_template, lead):
    settings = PromptSettings(chat_template=chat_template, strategy="batch")
    examples = encode_examples([GROUP[0], OTHER, GROUP[1], GROUP[2]], causal.tokenizer, settings, is_seq2seq=False)
    assert [e.record_id for e in examples] == ["q1", "r1"]  # one per context, in order of first appearance
    assert _learned_spans(examples[0], causal.tokenizer) == [f"{lead}1. 1842\n2. Anna Brell\n3. unanswerable<|im_end|>"]
    assert examples[0].labels == [IGNORE_INDEX] * examples[0].prompt_tokens + examples[0].input_ids[examples[0].prompt_tokens :]


@pytest.mark.parametrize("chat_template, lead", [("auto", ""), ("off", " ")])
def test_sequential_example_learns_every_answer_turn_and_its_end(causal, chat_template, lead):
    tokenizer = causal.tokenizer
    settings = PromptSettings(chat_template=chat_template, strategy="sequential")
    (example,) = encode_examples(GROUP, tokenizer, settings, is_seq2seq=False)
    assert example.record_id == "q1" and not example.answer_truncated
    assert _learned_spans(example, tokenizer) == [f"{lead}1842<|im_end|>", f"{lead}Anna Brell<|im_end|>", f"{lead}unanswerable<|im_end|>"]
    # Up to each answer, the example is token for token the evaluation prompt of that turn (gold history).
    conversation = start_conversation(GROUP, PromptBuilder(tokenizer, settings))
    golds = ["1842", "Anna Brell", "unanswerable"]
    for k in range(3):
        prompt_ids = encode_prompt(turn_prompt(conversation, golds[:k]).text, tokenizer, conversation.chat)
        assert example.input_ids[: len(prompt_ids)] == prompt_ids
        assert example.labels[len(prompt_ids) - 1] == IGNORE_INDEX != example.labels[len(prompt_ids)]


def test_sequential_example_is_cut_to_the_window(causal):
    settings = PromptSettings(strategy="sequential")
    (full,) = encode_examples(GROUP, causal.tokenizer, settings, is_seq2seq=False)
    (cut,) = encode_examples(GROUP, causal.tokenizer, settings, False, max_length=len(full.input_ids) - 3)
    assert cut.input_ids == full.input_ids[:-3] and cut.labels == full.labels[:-3] and cut.answer_truncated


def test_seq2seq_sequential_gives_one_example_per_turn(seq2seq):
    tokenizer = seq2seq.tokenizer
    examples = encode_examples(GROUP, tokenizer, PromptSettings(strategy="sequential"), is_seq2seq=True)
    assert [e.record_id for e in examples] == ["q1", "q2", "q3"]
    assert examples[1].labels == encode_target("Anna Brell", tokenizer, chat=False) + [tokenizer.eos_token_id]
    assert "Answer: 1842</s>" in tokenizer.decode(examples[1].input_ids)


@pytest.mark.parametrize("strategy", ["batch", "sequential"])
def test_multi_question_strategies_are_for_extractive_qa_only(causal, strategy):
    with pytest.raises(LorabenchError, match="extractive QA only"):
        encode_examples(synthesize("math", 2, seed=0), causal.tokenizer, PromptSettings(strategy=strategy), False)


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_labels_cover_exactly_the_rendered_target_and_the_end_token(causal, record, chat_template):
    settings = SETTINGS.model_copy(update={
        "chat_template": chat_template, "answer_prefix": "Reply:", "target_template": "{{ answer }} (from the text)",
    })
    tokenizer = causal.tokenizer
    example = encode_example(record, tokenizer, settings, is_seq2seq=False)
    learned = [t for t in example.labels if t != IGNORE_INDEX]
    assert tokenizer.decode(learned[:-1]) == f" {record.answers[0]} (from the text)"  # after the prefix's space
    assert learned[-1] == tokenizer.eos_token_id
    prompt_text = tokenizer.decode(example.input_ids[: example.prompt_tokens])
    assert prompt_text.endswith("Reply:") and "(from the text)" not in prompt_text
