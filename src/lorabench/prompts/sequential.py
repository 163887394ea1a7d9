"""The `sequential` strategy: a conversation that asks a context's questions one turn at a time.

Turn 1 is the single-question prompt of the first question; every later turn adds the previous
answer and the next question. The history holds gold answers at training and the model's own
answers at evaluation; both are rendered by `turn_prompt`, so the tokens match up to the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.prompts.build import Prompt, PromptBuilder
from lorabench.prompts.template import RecordText


@dataclass(frozen=True)
class Conversation:
    """A context's questions, the stage's builder whose settings and tokenizer render them, and the
    (possibly shortened) context every turn shows. The conversation renders its turns itself: what
    every turn starts with (the first question's message with that context, and its ending as plain
    text) is settled once."""

    records: tuple[Record, ...]
    builder: PromptBuilder
    first: RecordText  # the first question's text, which opens every turn
    ending: str  # plain rendering: what the first question ends with (see PromptBuilder.ending)
    end_text: str  # plain rendering: the EOS written after each earlier answer (a template writes its own)
    context: str
    message: str  # the first question's user message, with `context`
    shortened: bool

    @property
    def chat(self) -> bool:
        return self.builder.chat

    def gold(self, record: Record) -> str:
        """A question's target: its kind's own (for extractive QA the first gold answer), read off the
        conversation's one Task; the multi-question strategies take no target template."""
        return self.first.task.target(record)


def _follow_up(record: Record) -> str:
    return f"Question: {record.question}"


def _plain_end(tokenizer: Any) -> str:
    # The same token `train_data.answer_end_id` trains a plain-prompt model to end an answer with:
    # writing it into the history keeps training's token sequence equal to each evaluation prompt.
    if tokenizer.eos_token is None:
        raise LorabenchError("the tokenizer has no EOS token, so a plain-text conversation cannot mark where answers end")
    return str(tokenizer.eos_token)


def _render(conversation: Conversation, first: str, answers: Sequence[str]) -> str:
    """The prompt that asks question len(answers) + 1 after `first` (the first question's user
    message) and `answers` to the questions before it. A plain first turn is what a single prompt
    without history would be."""
    records, builder, cue = conversation.records, conversation.builder, conversation.first.task.cue
    if not builder.chat:
        # Plain turn cues: each question is a "Question:" line, each answer follows "Answer:" and ends in EOS.
        ending = conversation.ending
        rendered = f"{first}\n{ending}" if ending else first
        for answer, record in zip(answers, records[1:]):
            rendered += f" {answer}{conversation.end_text}\n\n{_follow_up(record)}\n{cue}"
        return rendered
    messages = [{"role": "user", "content": first}]
    if builder.settings.system:
        messages.insert(0, {"role": "system", "content": builder.settings.system})
    for answer, record in zip(answers, records[1:]):
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": _follow_up(record)}]
    return builder.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def start_conversation(records: Sequence[Record], builder: PromptBuilder) -> Conversation:
    """Fix the context for all turns: shortened, if needed, so that the last turn with empty answers
    fits `max_prompt_tokens`. That bound depends only on the records, so training and evaluation
    shorten alike; the answers themselves come on top, like the answer of a single prompt."""
    first = RecordText.of(records[0], builder.settings)
    end_text = "" if builder.chat else _plain_end(builder.tokenizer)
    whole = Conversation(
        tuple(records), builder, first, builder.ending(first.task.cue), end_text, records[0].context, "", shortened=False
    )
    empty = [""] * (len(records) - 1)
    fitted = builder.fit(
        whole.context, first.message, lambda message: _render(whole, message, empty), f"context of record {records[0].id}"
    )
    return replace(whole, context=fitted.context, message=fitted.message, shortened=fitted.shortened)


def turn_prompt(conversation: Conversation, answers: Sequence[str]) -> Prompt:
    """The prompt of turn len(answers) + 1, whose history holds `answers` as the earlier replies."""
    record = conversation.records[len(answers)]
    text = _render(conversation, conversation.message, answers)
    target = conversation.gold(record)
    return Prompt(record.id, text, target, conversation.chat, conversation.builder.n_tokens(text), conversation.shortened)


def gold_history(conversation: Conversation) -> list[str]:
    """The answers training puts in the history (teacher forcing): each question's target text."""
    return [conversation.gold(record) for record in conversation.records]
