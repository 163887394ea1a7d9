"""The prompts a `prompt.strategy` shows a model for some records, with the gold answers where a
model's own would come at evaluation: what training learns (as token ids), and what the format
guard compares."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lorabench.config.prompt import PromptSettings
from lorabench.data.records import Record
from lorabench.prompts.batch import build_batch_prompt
from lorabench.prompts.build import Prompt, PromptBuilder, TokenizedPrompt
from lorabench.prompts.grouping import shared_context_groups
from lorabench.prompts.sequential import gold_history, start_conversation, turn_prompt


def strategy_units(records: Sequence[Record], tokenizer: Any, settings: PromptSettings) -> Iterator[list[Prompt]]:
    """The prompts in the units a strategy asks in: one prompt per record (single), one per context
    (batch), and a context's turns, each with the gold answers before it as history (sequential).
    Built one unit at a time, so a caller meets a unit's mistake after it has used the units before it."""
    if settings.strategy == "single":
        builder = PromptBuilder(tokenizer, settings)
        for record in records:
            yield [builder.prompt(record)]
        return
    groups = shared_context_groups(records, settings.strategy)
    for group in groups:
        if settings.strategy == "batch":
            yield [build_batch_prompt(group, tokenizer, settings)]
            continue
        conversation = start_conversation(group, tokenizer, settings)
        golds = gold_history(conversation)
        yield [turn_prompt(conversation, tokenizer, golds[:k]) for k in range(len(group))]


def strategy_prompts(records: Sequence[Record], tokenizer: Any, settings: PromptSettings) -> list[Prompt]:
    """Every prompt `settings.strategy` shows a model for `records`: one per record (single), one per
    context (batch), one per turn (sequential, with the gold answers as history, as in training)."""
    return [prompt for unit in strategy_units(records, tokenizer, settings) for prompt in unit]


def tokenized_units(records: Sequence[Record], tokenizer: Any, settings: PromptSettings) -> Iterator[list[TokenizedPrompt]]:
    """`strategy_units`, each prompt with its token ids and its target's: what a training example is
    made of, tokenized here once."""
    for unit in strategy_units(records, tokenizer, settings):
        yield [TokenizedPrompt.of(prompt, tokenizer) for prompt in unit]
