"""Contexts for the multi-question strategies: a record that continues a conversation is refused."""

import pytest

from lorabench.data.records import ExtractiveRecord
from lorabench.core.errors import LorabenchError
from lorabench.prompts.grouping import extractive_groups

_CONTEXT = "Velmora lies on the Oslet river."


def test_a_record_with_earlier_turns_is_refused_rather_than_asked_without_them():
    first = ExtractiveRecord(id="q1", context=_CONTEXT, question="Where is Velmora?", answers=["on the Oslet"])
    follow_up = ExtractiveRecord(id="q2", context=_CONTEXT, question="Which river?", answers=["the Oslet"],
                                 history=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}])
    assert extractive_groups([first], "batch") == [[first]]
    with pytest.raises(LorabenchError, match="record q2 continues a conversation"):
        extractive_groups([first, follow_up], "sequential")
