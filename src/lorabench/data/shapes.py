"""Row shapes: chat `messages`, TRL's `prompt` / `completion`, and Alpaca, as presets of the field mapping.

A shape rewrites a raw row into three columns the loader then maps onto record fields:
`prompt` (what the user asks: a chat's last user message), `completion` (the answer: its final
assistant message) and `history` (the messages before `prompt`, a system message included; left
out when there are none). The row's other columns stay, so `data.fields` can still map them, and
can map `prompt` / `completion` to any record field. By default `prompt` fills the record's
`instruction` or `question` and `completion` its `response`, `answers` or `answer`, so a chat
file loads as `open`, `math`, `short`, ... with no mapping at all.

`first_row` decides, from a source's first row, its shape and the mapping of its columns onto
record fields, and checks that every mapped column is there: the loader asks once, then reads.

Chat messages are `{"role": ..., "content": ...}` with roles system, user and assistant and
string content; other keys of a message (`name`, `weight`) are not read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from lorabench.data.readers import json_cell
from lorabench.data.records import ROLES
from lorabench.core.errors import DataError

Row = dict[str, Any]
Message = dict[str, str]

PROMPT, COMPLETION, HISTORY = "prompt", "completion", "history"
# The record fields a shape's prompt and completion fill, found by name: every kind uses one of them.
_PROMPT_FIELDS = ("instruction", "question")
_TARGET_FIELDS = ("response", "answers", "answer")


def _message(item: Any, index: int, where: str, field: str) -> Message:
    if not isinstance(item, dict):
        raise DataError(where, f"message {index} is a {type(item).__name__}, expected {{\"role\": ..., \"content\": ...}}",
                        field)
    role, content = item.get("role"), item.get("content")
    if role not in ROLES:
        raise DataError(where, f"message {index} has role {role!r}; expected one of {', '.join(ROLES)}", field)
    if not isinstance(content, str):
        raise DataError(where, f"message {index} ({role}): content must be a string, got {type(content).__name__}",
                        field)
    return {"role": role, "content": content}


def messages(value: Any, where: str, field: str) -> list[Message]:
    """A list of chat messages, each checked; the error names the row, the field and the message."""
    value = json_cell(value)
    if not isinstance(value, list):
        raise DataError(where, f"expected a list of chat messages, got {type(value).__name__}", field)
    return [_message(item, index, where, field) for index, item in enumerate(value)]


def turns(value: Any, where: str, field: str = HISTORY) -> list[Message]:
    """Earlier turns as messages: a list of messages, or LLaMA-Factory's `[[user, assistant], ...]` pairs."""
    value = json_cell(value)
    if isinstance(value, list) and value and all(isinstance(pair, (list, tuple)) for pair in value):
        pairs = []
        for index, pair in enumerate(value):
            if len(pair) != 2 or not all(isinstance(text, str) for text in pair):
                raise DataError(where, f"pair {index} must be [user message, assistant reply], two strings", field)
            pairs += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
        return pairs
    return messages(value, where, field)


def _flat(row: Row, prompt: Any, completion: Any, history: list[Message]) -> Row:
    flat = {key: value for key, value in row.items() if key != HISTORY}
    flat.update({PROMPT: prompt, COMPLETION: completion})
    if history:
        flat[HISTORY] = history
    return flat


def _chat(row: Row, where: str, has_context: bool) -> Row:
    conversation = messages(row.get("messages"), where, "messages")
    if not conversation or conversation[-1]["role"] != "assistant":
        last = f"a {conversation[-1]['role']!r} message" if conversation else "nothing"
        raise DataError(where, f"the last message must be the assistant's answer; found {last}", "messages")
    *earlier, answer = conversation
    if not earlier or earlier[-1]["role"] != "user":
        raise DataError(where, "the assistant's final answer must follow a user message", "messages")
    return _flat(row, earlier[-1]["content"], answer["content"], earlier[:-1])


def _prompt_completion(row: Row, where: str, has_context: bool) -> Row:
    prompt, completion, history = row.get(PROMPT), row.get(COMPLETION), []
    if isinstance(prompt, list):  # TRL's conversational form: the prompt's messages end with the user's
        conversation = messages(prompt, where, PROMPT)
        if not conversation or conversation[-1]["role"] != "user":
            raise DataError(where, "a conversational prompt must end with a user message", PROMPT)
        history, prompt = conversation[:-1], conversation[-1]["content"]
    if isinstance(completion, list):
        reply = messages(completion, where, COMPLETION)
        if len(reply) != 1 or reply[0]["role"] != "assistant":
            raise DataError(where, "a conversational completion must be exactly one assistant message", COMPLETION)
        completion = reply[0]["content"]
    return _flat(row, prompt, completion, history)


def _alpaca(row: Row, where: str, has_context: bool) -> Row:
    prompt, extra = row.get("instruction"), row.get("input")
    if not has_context and isinstance(extra, str) and extra.strip() and isinstance(prompt, str):
        # Alpaca's template shows the input under the instruction; a kind without a context reads it there too.
        prompt = f"{prompt}\n\n{extra}"
    history = turns(row[HISTORY], where) if row.get(HISTORY) is not None else []
    system = row.get("system")
    if system is not None and not isinstance(system, str):
        raise DataError(where, f"expected a string, got {type(system).__name__}", "system")
    if system and system.strip():  # LLaMA-Factory's Alpaca has a system column
        history = [{"role": "system", "content": system}, *history]
    return _flat(row, prompt, row.get("output"), history)


@dataclass(frozen=True)
class Shape:
    """One row shape: the columns that identify it and how it becomes prompt / completion / history."""

    name: str  # the `data.preset` value
    label: str  # how messages name it
    needs: tuple[str, ...]  # columns the first row must have for the shape to be detected
    conform: Callable[[Row, str, bool], Row]  # (row, where, record has a context field) -> row
    origins: dict[str, str]  # a made column -> how an error names where its value came from
    context: str | None = None  # the column that fills a record's context, for kinds that have one

    def mapping(self, fields: Collection[str]) -> dict[str, list[str]]:
        """Record field -> column: the preset's own mapping, which `data.fields` entries replace."""
        mapping = {HISTORY: [HISTORY]}
        for candidates, column in ((_PROMPT_FIELDS, PROMPT), (_TARGET_FIELDS, COMPLETION)):
            name = next((f for f in candidates if f in fields), None)
            if name is not None:
                mapping[name] = [column]
        if self.context is not None and "context" in fields:
            mapping["context"] = [self.context]
        return mapping

    def describe(self) -> str:
        return f"{self.label} ({', '.join(self.needs)})"


_CHAT_ORIGINS = {PROMPT: "the last user message", COMPLETION: "the final assistant message", HISTORY: "the earlier messages"}

# In the order auto-detection tries them.
SHAPES: dict[str, Shape] = {
    "chat": Shape("chat", "chat", ("messages",), _chat, _CHAT_ORIGINS),
    "prompt_completion": Shape(
        "prompt_completion", "prompt/completion", (PROMPT, COMPLETION), _prompt_completion,
        {PROMPT: "column 'prompt'", COMPLETION: "column 'completion'", HISTORY: "the prompt's earlier messages"},
    ),
    "alpaca": Shape(
        "alpaca", "alpaca", ("instruction", "output"), _alpaca,
        {PROMPT: "column 'instruction'", COMPLETION: "column 'output'", HISTORY: "columns 'system' and 'history'"},
        context="input",
    ),
}
MADE_COLUMNS = (PROMPT, COMPLETION, HISTORY)


def conversational(row: Row) -> bool:
    """TRL's conversational prompt/completion: a list of messages can never be a record's text as it is."""
    return isinstance(row.get(PROMPT), list) or isinstance(row.get(COMPLETION), list)


def matching(row: Row) -> Shape | None:
    """The first shape whose identifying columns the row has."""
    return next((s for s in SHAPES.values() if all(row.get(c) is not None for c in s.needs)), None)


def detect(preset_name: str, row: Row, where: str, own_fields: bool) -> Shape | None:
    """The shape of a source from its first row: the one `data.preset` names, none for "none";
    under "auto" TRL's conversational prompt/completion, else none when the row has the task's own
    fields (`own_fields`), else the first shape whose columns it has (None when none has them)."""
    if preset_name == "none":
        return None
    if preset_name != "auto":
        return preset(preset_name, row, where)
    if conversational(row):
        return SHAPES["prompt_completion"]
    return None if own_fields else matching(row)


def preset(name: str, row: Row, where: str) -> Shape:
    """The shape `data.preset` names; the first row lacking its columns is a config mistake."""
    shape = SHAPES[name]
    absent = [c for c in shape.needs if c not in row]
    if absent:
        raise DataError(where, f"preset {name!r} reads column '{absent[0]}', which is not in the data "
                               f"(columns: {', '.join(map(str, row))})")
    return shape


def first_row(
    preset_name: str, row: Row, where: str, mapping: dict[str, list[str]], fields: Collection[str],
    own_fields: bool, own: str | None,
) -> tuple[Shape | None, dict[str, list[str]]]:
    """How a source's columns become record `fields`, decided once from its first row: the shape
    (see `detect`) and the field mapping, the shape's preset under the explicit `mapping`
    (`data.fields`), checked against the row. `own` describes the record fields the row lacks (None
    when it has them, or when rows are read as the task's own fields anyway): with no shape either,
    the row is an error saying what was tried."""
    shape = detect(preset_name, row, where, own_fields)
    check_mapping(mapping, where, row, shape)  # a mistyped column has its own, sharper message
    if shape is None and own is not None:
        raise no_shape(where, row, own)
    return shape, mapping if shape is None else {**shape.mapping(fields), **mapping}


def check_mapping(mapping: dict[str, list[str]], where: str, row: Row, shape: Shape | None) -> None:
    """A mapped column absent from the first row is a config mistake, so it fails even with skip_invalid;
    the columns a shape makes count as present when the row has that shape."""
    made = MADE_COLUMNS if shape is not None else ()
    for name, columns in mapping.items():
        absent = [c for c in columns if c not in row and c not in made]
        if absent:
            raise DataError(
                where, f"mapped to column '{absent[0]}', which is not in the data (columns: {', '.join(row)})", name
            )


def no_shape(where: str, row: Row, own: str) -> DataError:
    """The error for a first row that is none of the shapes nor the task's own fields (`own` says which)."""
    tried = ", ".join(shape.describe() for shape in SHAPES.values())
    return DataError(where, f"no known shape: tried {tried} and {own}; the row has columns "
                            f"{', '.join(map(str, row)) or '(none)'}; give data.fields to map your columns "
                            f"or data.preset to name the shape")
