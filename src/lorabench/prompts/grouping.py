"""Contexts: the records that share a `group_id`, in data order."""

from __future__ import annotations

from collections.abc import Sequence

from lorabench.data.records import Record
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task
from lorabench.config.prompt import Strategy


def context_groups(records: Sequence[Record]) -> list[list[Record]]:
    """Records grouped by `group_id`: groups in order of first appearance, questions in data order.

    A group need not be contiguous in the data; splits already keep a whole group on one side.
    """
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.group_id, []).append(record)
    return list(groups.values())


def shared_context_groups(records: Sequence[Record], strategy: Strategy, task: Task) -> list[list[Record]]:
    """The contexts a multi-question strategy works on; it is defined for kinds whose questions
    share contexts (extractive QA). `task` is the records' kind (a list holds one kind), which the
    caller has looked up already."""
    wrong = records[0] if records and not task.shared_contexts else None
    if wrong is not None:
        raise LorabenchError(
            f"prompt.strategy '{strategy}' asks several questions about one context and works on extractive "
            f"QA only, but record {wrong.id} is a {wrong.task.value} item; use prompt.strategy 'single'"
        )
    chat = next((r for r in records if r.history), None)
    if chat is not None:  # its own conversation cannot also be a turn of the context's
        raise LorabenchError(
            f"prompt.strategy '{strategy}' asks a context's questions in a conversation of its own, but record "
            f"{chat.id} continues a conversation (it has earlier turns); use prompt.strategy 'single'"
        )
    return context_groups(records)
