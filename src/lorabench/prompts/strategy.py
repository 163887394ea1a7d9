"""The prompts a `prompt.strategy` shows a model for some records, with the gold answers where a
model's own would come at evaluation: what training learns (as token ids), and what the format
guard compares. Every unit is rendered by the stage's one `PromptBuilder`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from lorabench.core.kinds import get_task
from lorabench.data.records import Record
from lorabench.prompts.batch import build_batch_prompt
from lorabench.prompts.build import Prompt, PromptBuilder, TokenizedPrompt
from lorabench.prompts.grouping import shared_context_groups
from lorabench.prompts.sequential import gold_history, start_conversation, turn_prompt


def strategy_units(records: Sequence[Record], builder: PromptBuilder) -> Iterator[list[Prompt]]:
    """The prompts in the units a strategy asks in: one prompt per record (single), one per context
    (batch), and a context's turns, each with the gold answers before it as history (sequential).
    Built one unit at a time, so a caller meets a unit's mistake after it has used the units before it."""
    strategy = builder.settings.strategy
    if strategy == "single":
        for record in records:
            yield [builder.prompt(record)]
        return
    if not records:
        return
    task = get_task(records[0].task)  # the records' one kind, looked up once for all their contexts
    for group in shared_context_groups(records, strategy, task):
        if strategy == "batch":
            yield [build_batch_prompt(group, builder)]
            continue
        conversation = start_conversation(group, builder)
        golds = gold_history(conversation)
        yield [turn_prompt(conversation, golds[:k]) for k in range(len(group))]


def strategy_prompts(records: Sequence[Record], builder: PromptBuilder) -> list[Prompt]:
    """Every prompt the builder's strategy shows a model for `records`: one per record (single), one
    per context (batch), one per turn (sequential, with the gold answers as history, as in training)."""
    return [prompt for unit in strategy_units(records, builder) for prompt in unit]


def tokenized_units(records: Sequence[Record], builder: PromptBuilder) -> Iterator[list[TokenizedPrompt]]:
    """`strategy_units`, each prompt with its token ids and its target's: what a training example is
    made of, tokenized here once."""
    for unit in strategy_units(records, builder):
        yield [TokenizedPrompt.of(prompt, builder.tokenizer) for prompt in unit]
