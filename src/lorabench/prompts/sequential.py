"""The `sequential` strategy: a conversation that asks a context's questions one turn at a time.

Turn 1 is the single-question prompt of the first question; every later turn adds the previous
answer and the next question. The history holds gold answers at training and the model's own
answers at evaluation; both are rendered by `turn_prompt`, so the tokens match up to the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.config.prompt import PromptSettings
from lorabench.prompts.build import (
    Prompt,
    encode_prompt,
    fit_context,
    plain_cue,
    render_user_turn,
    target_text,
    user_message,
    uses_chat_template,
)


@dataclass(frozen=True)
class Conversation:
    """A context's questions, and the (possibly shortened) context every turn shows."""

    records: tuple[Record, ...]
    settings: PromptSettings
    context: str
    shortened: bool
    chat: bool
    end_text: str  # plain rendering: the EOS written after each earlier answer (a template writes its own)


def _follow_up(record: Record) -> str:
    return f"Question: {record.question}"


def _plain_end(tokenizer: Any) -> str:
    # The same token `train_data.answer_end_id` trains a plain-prompt model to end an answer with:
    # writing it into the history keeps training's token sequence equal to each evaluation prompt.
    if tokenizer.eos_token is None:
        raise LorabenchError("the tokenizer has no EOS token, so a plain-text conversation cannot mark where answers end")
    return str(tokenizer.eos_token)


def _render(
    records: Sequence[Record], settings: PromptSettings, tokenizer: Any, chat: bool, end_text: str,
    context: str, answers: Sequence[str],
) -> str:
    """The prompt that asks question len(answers) + 1, after `answers` to the questions before it."""
    first = user_message(records[0], settings, context)
    cue = plain_cue(records[0].task)
    if not chat:
        # Plain turn cues: each question is a "Question:" line, each answer follows "Answer:" and ends in EOS.
        text = render_user_turn(first, cue, tokenizer, settings, chat=False)
        for answer, record in zip(answers, records[1:]):
            text += f" {answer}{end_text}\n\n{_follow_up(record)}\n{cue}"
        return text
    messages = [{"role": "user", "content": first}]
    if settings.system:
        messages.insert(0, {"role": "system", "content": settings.system})
    for answer, record in zip(answers, records[1:]):
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": _follow_up(record)}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def start_conversation(records: Sequence[Record], tokenizer: Any, settings: PromptSettings) -> Conversation:
    """Fix the context for all turns: shortened, if needed, so that the last turn with empty answers
    fits `max_prompt_tokens`. That bound depends only on the records, so training and evaluation
    shorten alike; the answers themselves come on top, like the answer of a single prompt."""
    chat = uses_chat_template(tokenizer, settings)
    end_text = "" if chat else _plain_end(tokenizer)
    empty = [""] * (len(records) - 1)
    fitted = fit_context(
        records[0].context,
        lambda context: _render(records, settings, tokenizer, chat, end_text, context, empty),
        tokenizer,
        chat,
        settings.max_prompt_tokens,
        f"context of record {records[0].id}",
    )
    return Conversation(tuple(records), settings, fitted.context, fitted.shortened, chat, end_text)


def turn_prompt(conversation: Conversation, tokenizer: Any, answers: Sequence[str]) -> Prompt:
    """The prompt of turn len(answers) + 1, whose history holds `answers` as the earlier replies."""
    record = conversation.records[len(answers)]
    text = _render(
        conversation.records, conversation.settings, tokenizer, conversation.chat, conversation.end_text,
        conversation.context, answers,
    )
    n_tokens = len(encode_prompt(text, tokenizer, conversation.chat))
    return Prompt(record.id, text, target_text(record), conversation.chat, n_tokens, conversation.shortened)


def gold_history(conversation: Conversation) -> list[str]:
    """The answers training puts in the history (teacher forcing): each question's target text."""
    return [target_text(record) for record in conversation.records]
