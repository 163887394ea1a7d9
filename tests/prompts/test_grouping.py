"""Contexts for the multi-question strategies: a record that continues a conversation is refused."""

import pytest

from lorabench.core.kinds import get_task
from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.core.errors import LorabenchError
from lorabench.prompts.grouping import shared_context_groups

_CONTEXT = "Velmora lies on the Oslet river."


def test_a_record_with_earlier_turns_is_refused_rather_than_asked_without_them():
    first = ExtractiveRecord(id="q1", context=_CONTEXT, question="Where is Velmora?", answers=["on the Oslet"])
    follow_up = ExtractiveRecord(id="q2", context=_CONTEXT, question="Which river?", answers=["the Oslet"],
                                 history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}])
    assert shared_context_groups([first], "batch", get_task("extractive")) == [[first]]
    with pytest.raises(LorabenchError, match="record q2 continues a conversation"):
        shared_context_groups([first, follow_up], "sequential", get_task("extractive"))
