"""The sequential strategy: one conversation per context, one turn per question."""

from __future__ import annotations

import pytest

from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.prompts.build import PromptBuilder, PromptSettings, build_prompt, encode_prompt, encode_target
from lorabench.prompts.sequential import gold_history, start_conversation, turn_prompt
from tests.tiny_models import build_causal_tokenizer

CONTEXT = "Velmora lies on the Oslet river. It was founded in 1842 by Anna Brell."
GROUP = [
    ExtractiveRecord(id="q1", context=CONTEXT, question="When was Velmora founded?", answers=["1842"]),
    ExtractiveRecord(id="q2", context=CONTEXT, question="Who founded Velmora?", answers=["Anna Brell"]),
    ExtractiveRecord(id="q3", context=CONTEXT, question="Which river?", answers=["Oslet", "the Oslet"]),
]


@pytest.fixture(scope="module")
def tokenizer():
    return build_causal_tokenizer()


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_first_turn_is_the_single_prompt(tokenizer, chat_template):
    settings = PromptSettings(chat_template=chat_template, system="Be brief." if chat_template == "auto" else None)
    conversation = start_conversation(GROUP, PromptBuilder(tokenizer, settings))
    assert turn_prompt(conversation, []).text == build_prompt(GROUP[0], tokenizer, settings).text


def test_chat_history_holds_earlier_answers_as_assistant_turns(tokenizer):
    conversation = start_conversation(GROUP, PromptBuilder(tokenizer, PromptSettings()))
    prompt = turn_prompt(conversation, ["in 1842", "Anna"])
    assert prompt.record_id == "q3" and prompt.target == "Oslet"
    assert prompt.text.count(CONTEXT) == 1
    tail = prompt.text[prompt.text.index("Question: When was Velmora founded?") :]
    assert tail == (
        "Question: When was Velmora founded?<|im_end|>\n"
        "<|im_start|>assistant\nin 1842<|im_end|>\n"
        "<|im_start|>user\nQuestion: Who founded Velmora?<|im_end|>\n"
        "<|im_start|>assistant\nAnna<|im_end|>\n"
        "<|im_start|>user\nQuestion: Which river?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert prompt.n_tokens == len(encode_prompt(prompt.text, tokenizer, chat=True))


def test_plain_history_has_turn_cues_and_ends_each_answer_with_eos(tokenizer):
    conversation = start_conversation(GROUP, PromptBuilder(tokenizer, PromptSettings(chat_template="off")))
    prompt = turn_prompt(conversation, ["in 1842", "Anna"])
    assert prompt.text.endswith(
        "Question: When was Velmora founded?\nAnswer: in 1842<|im_end|>\n\n"
        "Question: Who founded Velmora?\nAnswer: Anna<|im_end|>\n\n"
        "Question: Which river?\nAnswer:"
    )


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_each_turn_extends_the_last_by_its_answer(tokenizer, chat_template):
    conversation = start_conversation(GROUP, PromptBuilder(tokenizer, PromptSettings(chat_template=chat_template)))
    golds = gold_history(conversation)
    assert golds == ["1842", "Anna Brell", "Oslet"]
    texts = [turn_prompt(conversation, golds[:k]).text for k in range(3)]
    for before, after, answer in zip(texts, texts[1:], golds):
        assert after.startswith(before + (answer if chat_template == "auto" else " " + answer))


def test_long_context_is_shortened_once_for_every_turn(tokenizer):
    long_context = " ".join(f"Sentence {i} about Velmora." for i in range(200))
    group = [r.model_copy(update={"context": long_context}) for r in GROUP]
    conversation = start_conversation(group, PromptBuilder(tokenizer, PromptSettings(max_prompt_tokens=200)))
    assert conversation.shortened and "Sentence 0 about" in conversation.context
    # The bound holds for the last turn without answers; every turn shows the same context.
    assert turn_prompt(conversation, ["", ""]).n_tokens <= 200
    for k in range(3):
        prompt = turn_prompt(conversation, ["x"] * k)
        assert prompt.shortened and conversation.context in prompt.text and "Sentence 199" not in prompt.text


def test_kv_cache_prompt_tokens_are_the_tokens_the_model_did_not_write(tokenizer):
    """Hand count on two turns: the last prompt is turn 1's prompt, the model's answer and its end
    token, and the follow-up question; without the answer it wrote, that is what it read."""
    from lorabench.inference.generate import Generation
    from lorabench.evaluation.rows import sequential_cost

    conversation = start_conversation(GROUP[:2], PromptBuilder(tokenizer, PromptSettings()))
    first = encode_prompt(turn_prompt(conversation, []).text, tokenizer, chat=True)
    second = encode_prompt(turn_prompt(conversation, ["1842"]).text, tokenizer, chat=True)
    written = encode_target("1842", tokenizer, chat=True) + [tokenizer.convert_tokens_to_ids("<|im_end|>")]
    follow_up = second[len(first) + len(written) :]
    assert second == first + written + follow_up
    turns = [
        Generation("q1", "1842", len(first), len(written), 0.5, False, "eos"),
        Generation("q2", "Anna", len(second), 3, 0.25, False, "eos"),
    ]
    cost = sequential_cost(turns)
    assert cost.prompt_tokens == len(first) + len(follow_up)
    assert cost.api_prompt_tokens == len(first) + len(second)
    assert cost.generated_tokens == len(written) + 3


def test_the_first_message_is_rendered_once_per_conversation_not_per_turn(tokenizer, monkeypatch):
    from lorabench.prompts import template

    long_context = " ".join(f"Sentence {i} about Velmora." for i in range(200))
    group = [r.model_copy(update={"context": long_context}) for r in GROUP]
    settings = PromptSettings(max_prompt_tokens=200, template="{{ task_instruction }}\n{{ context }}\nQ: {{ question }}")
    conversation = start_conversation(group, PromptBuilder(tokenizer, settings))
    assert conversation.shortened and conversation.message == conversation.first.message(conversation.context)
    rendered: list[str | None] = []
    message = template.RecordText.message
    monkeypatch.setattr(template.RecordText, "message", lambda self, context=None: rendered.append(context) or message(self, context))
    texts = [turn_prompt(conversation, ["x"] * k).text for k in range(3)]
    assert rendered == [] and all(text.count(conversation.message) == 1 for text in texts)
