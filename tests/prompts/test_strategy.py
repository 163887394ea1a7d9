"""A strategy's units: every unit rendered by the stage's one builder, and tokenized once for training."""

from __future__ import annotations

import pytest

from lorabench.prompts.build import PromptBuilder, PromptSettings, encode_prompt, encode_target
from lorabench.prompts.strategy import strategy_prompts, strategy_units, tokenized_units
from tests.shared_contexts import records, tokenizer  # noqa: F401  (fixtures)


@pytest.mark.parametrize("strategy", ["single", "batch", "sequential"])
@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_tokenized_units_are_the_units_tokenized_as_every_engine_tokenizes(tokenizer, records, strategy, chat_template):
    builder = PromptBuilder(tokenizer, PromptSettings(strategy=strategy, chat_template=chat_template))
    units = list(strategy_units(records, builder))
    tokenized = list(tokenized_units(records, builder))
    assert [[t.prompt for t in unit] for unit in tokenized] == units
    for unit in tokenized:
        for tokens in unit:
            prompt = tokens.prompt
            assert tokens.prompt_ids == encode_prompt(prompt.text, tokenizer, prompt.chat)
            assert len(tokens.prompt_ids) == prompt.n_tokens
            assert tokens.target_ids == encode_target(prompt.target, tokenizer, prompt.bare_answer)


def test_one_builder_decides_the_chat_template_for_every_unit(tokenizer, records):
    builder = PromptBuilder(tokenizer, PromptSettings(strategy="batch", chat_template="off"))
    assert not any(prompt.chat for prompt in strategy_prompts(records, builder))
    assert builder.chat is False
