"""The format-mismatch guard compares the prompts each strategy produces, and flags strategy drift."""

from __future__ import annotations

import pytest

from lorabench.data.synth import synthesize
from lorabench.core.errors import LorabenchError
from lorabench.comparison.guards import format_mismatch
from lorabench.prompts.build import PromptBuilder, PromptSettings
from lorabench.prompts.grouping import context_groups
from lorabench.prompts.strategy import strategy_prompts
from tests.shared_contexts import records, tokenizer  # noqa: F401  (fixtures)


def test_strategy_drift_is_flagged(tokenizer, records):
    finding = format_mismatch(records, tokenizer, PromptSettings(strategy="batch"), PromptSettings())
    assert not finding.ok and "'batch'" in finding.message and "'single'" in finding.message
    assert finding.details == {"train_strategy": "batch", "eval_strategy": "single"}


@pytest.mark.parametrize("strategy", ["single", "batch", "sequential"])
def test_same_strategy_and_settings_pass_and_other_settings_fail(tokenizer, records, strategy):
    settings = PromptSettings(strategy=strategy)
    assert format_mismatch(records, tokenizer, settings, settings).ok
    drifted = settings.model_copy(update={"system": "Be brief."})
    finding = format_mismatch(records, tokenizer, settings, drifted)
    assert not finding.ok and finding.details["record_id"] == records[0].id


def test_equal_settings_are_not_rendered_again(records):
    # No tokenizer at all: equal settings with one tokenizer render equal prompts, so none is built.
    settings = PromptSettings(system="Be brief.")
    finding = format_mismatch(records, None, settings, settings.model_copy())
    assert finding.ok and finding.message == f"evaluation prompts equal training prompts on all {len(records)} items"


def test_each_strategy_shows_its_own_prompts(tokenizer, records):
    n_groups = len(context_groups(records))
    assert 1 < n_groups < len(records)
    assert len(strategy_prompts(records, PromptBuilder(tokenizer, PromptSettings()))) == len(records)
    assert len(strategy_prompts(records, PromptBuilder(tokenizer, PromptSettings(strategy="batch")))) == n_groups
    assert len(strategy_prompts(records, PromptBuilder(tokenizer, PromptSettings(strategy="sequential")))) == len(records)


def test_non_extractive_tasks_refuse_multi_question_strategies(tokenizer):
    with pytest.raises(LorabenchError, match="extractive QA only"):
        strategy_prompts(synthesize("math", 2, seed=0), PromptBuilder(tokenizer, PromptSettings(strategy="batch")))
