"""Row shapes: chat messages, prompt/completion (plain and conversational), Alpaca; detection, presets,
mapping onto other tasks, the no-shape error and row errors inside a shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lorabench.data.records import Turn, record_to_row, save_records

from lorabench.tasks.math import MathRecord

from lorabench.tasks.open_answers import OpenRecord
from lorabench.core.errors import DataError
from lorabench.data.shapes import SHAPES, detect, first_row
from lorabench.data.spec import DataSpec
from tests.data.test_loaders import assert_located, error_of, load, write_jsonl


def chat(*turns: tuple[str, str]) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": content} for role, content in turns]}


SYSTEM = ("system", "You are terse.")
TWO_TURNS = chat(SYSTEM, ("user", "Name a river."), ("assistant", "The Oslet."),
                 ("user", "How long is it?"), ("assistant", "About 40 km.\n#### 40"))
ONE_TURN = chat(("user", "What is 3 + 4?"), ("assistant", "3 + 4 = 7\n#### 7"))


# ---- chat -------------------------------------------------------------------------------------

def test_chat_rows_load_as_open_with_the_earlier_turns_as_history(tmp_path: Path) -> None:
    result = load(write_jsonl(tmp_path / "chat.jsonl", [TWO_TURNS, ONE_TURN]), "open")
    first, second = result.records
    assert isinstance(first, OpenRecord) and first.instruction == "How long is it?"
    assert first.response == "About 40 km.\n#### 40"
    assert first.history == (Turn(role="system", content="You are terse."), Turn(role="user", content="Name a river."),
                             Turn(role="assistant", content="The Oslet."))
    assert second.history is None and "history" not in record_to_row(second)
    assert first.id.startswith("chat-") and first.id != second.id


def test_a_single_turn_chat_is_the_same_record_as_its_own_fields(tmp_path: Path) -> None:
    """No history, no trace of the shape: the id and the saved row equal those of the flat row."""
    from_chat = load(write_jsonl(tmp_path / "qa.jsonl", [ONE_TURN]), "math").records[0]
    flat = load(write_jsonl(tmp_path / "qa.jsonl", [{"question": "What is 3 + 4?", "answer": "3 + 4 = 7\n#### 7"}]),
                "math").records[0]
    assert from_chat == flat


@pytest.mark.parametrize(("task", "field", "value"), [
    ("math", "final", 40.0),
    ("short", "answers", ["About 40 km.\n#### 40"]),
])
def test_chat_rows_fill_other_tasks_question_and_answer(tmp_path: Path, task: str, field: str, value: Any) -> None:
    record = load(write_jsonl(tmp_path / "chat.jsonl", [TWO_TURNS]), task).records[0]
    assert record.question == "How long is it?" and getattr(record, field) == value
    assert len(record.history) == 3


def test_data_fields_map_a_chat_onto_any_task(tmp_path: Path) -> None:
    rows = [{**chat(("user", "Which is a river?"), ("assistant", "B")), "choices": ["a hill", "the Oslet"]},
            {**chat(("user", "Where is Velmora?"), ("assistant", "on the Oslet")), "passage": "Velmora is on the Oslet."}]
    choice = load(write_jsonl(tmp_path / "mc.jsonl", rows[:1]), "choice", fields={"options": "choices"}).records[0]
    assert (choice.question, choice.options, choice.answer) == ("Which is a river?", ["a hill", "the Oslet"], "B")
    span = load(write_jsonl(tmp_path / "span.jsonl", rows[1:]), "extractive", fields={"context": "passage"}).records[0]
    assert (span.context, span.question, span.answers) == ("Velmora is on the Oslet.", "Where is Velmora?", ["on the Oslet"])
    # The made columns are names data.fields can use: here the answer goes to `category` too.
    tagged = load(write_jsonl(tmp_path / "t.jsonl", [ONE_TURN]), "open", fields={"category": "completion"}).records[0]
    assert tagged.category == tagged.response


def test_chat_in_a_csv_cell_is_json_text(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "messages"], ["c1", json.dumps(ONE_TURN["messages"])]])
    record = load(path, "math").records[0]
    assert (record.id, record.question, record.final) == ("c1", "What is 3 + 4?", 7.0)


def test_chat_records_round_trip_through_saved_rows(tmp_path: Path) -> None:
    records = load(write_jsonl(tmp_path / "chat.jsonl", [TWO_TURNS, ONE_TURN]), "open").records
    save_records(records, tmp_path / "saved.jsonl")
    assert load(tmp_path / "saved.jsonl", "open").records == records


# ---- prompt / completion (TRL) ----------------------------------------------------------------

def test_prompt_completion_strings_and_conversations(tmp_path: Path) -> None:
    rows = [
        {"prompt": [{"role": "system", "content": "Be exact."}, {"role": "user", "content": "2 + 2?"}],
         "completion": [{"role": "assistant", "content": "#### 4"}]},
        {"prompt": "3 + 3?", "completion": "#### 6"},
    ]
    first, second = load(write_jsonl(tmp_path / "pc.jsonl", rows), "math").records
    assert (first.question, first.final, first.history) == ("2 + 2?", 4.0, (Turn(role="system", content="Be exact."),))
    assert (second.question, second.final, second.history) == ("3 + 3?", 6.0, None)
    conversational = load(write_jsonl(tmp_path / "pc.jsonl", rows), "open").records[0]
    assert (conversational.instruction, conversational.response) == ("2 + 2?", "#### 4")


# ---- Alpaca -----------------------------------------------------------------------------------

ALPACA = [{"instruction": "Add the numbers.", "input": "2 and 5", "output": "2 + 5 = 7\n#### 7"},
          {"instruction": "Double 4.", "input": "", "output": "#### 8"}]


def test_alpaca_input_is_the_context_or_joins_the_question(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "alpaca.jsonl", ALPACA)
    auto, preset = load(path, "open").records, load(path, "open", preset="alpaca").records
    assert auto == preset  # open reads Alpaca by its aliases; the preset names the same mapping
    assert (auto[0].instruction, auto[0].context, auto[0].response) == ("Add the numbers.", "2 and 5", "2 + 5 = 7\n#### 7")
    math = load(path, "math").records  # no context field: the input is shown under the instruction
    assert [r.question for r in math] == ["Add the numbers.\n\n2 and 5", "Double 4."]


def test_llama_factory_alpaca_system_and_history_pairs(tmp_path: Path) -> None:
    row = {**ALPACA[1], "system": "Be exact.", "history": [["Double 2.", "#### 4"]]}
    record = load(write_jsonl(tmp_path / "lf.jsonl", [row]), "math", preset="alpaca").records[0]
    assert [(t.role, t.content) for t in record.history] == [
        ("system", "Be exact."), ("user", "Double 2."), ("assistant", "#### 4")]


# ---- detection and presets --------------------------------------------------------------------

def test_the_tasks_own_fields_win_over_a_shape_unless_a_preset_names_it(tmp_path: Path) -> None:
    row = {**ONE_TURN, "question": "Flat question?", "answer": "#### 1"}
    path = write_jsonl(tmp_path / "both.jsonl", [row])
    assert load(path, "math").records[0].question == "Flat question?"
    assert load(path, "math", preset="chat").records[0].question == "What is 3 + 4?"


def test_preset_none_reads_only_the_tasks_own_fields(tmp_path: Path) -> None:
    err = error_of(write_jsonl(tmp_path / "chat.jsonl", [ONE_TURN]), "math", preset="none")
    assert_located(err, "chat.jsonl", "chat.jsonl:1", "question")
    assert "missing" in str(err)


def test_a_preset_whose_column_is_absent_fails_even_when_skipping(tmp_path: Path) -> None:
    err = error_of(write_jsonl(tmp_path / "flat.jsonl", ALPACA), "open", preset="chat", skip_invalid=True)
    assert "flat.jsonl:1" in str(err) and "preset 'chat' reads column 'messages'" in str(err)


def test_a_row_of_no_known_shape_lists_what_was_tried(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"query": "Q?", "reply": "A."}])
    message = str(error_of(path, "open"))
    assert f"{path}:1: no known shape: tried chat (messages), prompt/completion (prompt, completion), " \
           "alpaca (instruction, output) and open records (instruction, response; no instruction:" in message
    assert "the row has columns query, reply" in message and "data.fields" in message


def test_a_mistyped_mapping_is_named_rather_than_the_shape(tmp_path: Path) -> None:
    err = error_of(write_jsonl(tmp_path / "x.jsonl", [{"q": "Q?", "a": "#### 1"}]), "math",
                   fields={"question": "q", "answer": "ans"})
    assert_located(err, "x.jsonl", "x.jsonl:1", "answer")
    assert "mapped to column 'ans'" in str(err)


def test_skipping_reads_a_shapeless_first_row_as_the_tasks_own_fields(tmp_path: Path) -> None:
    rows = [{"query": "Q?"}, {"question": "Q2?", "answer": "#### 2"}]
    result = load(write_jsonl(tmp_path / "x.jsonl", rows), "math", skip_invalid=True)
    assert [r.question for r in result.records] == ["Q2?"] and result.skipped[0].field == "question"


def test_preset_is_checked_and_left_out_of_saved_specs_when_auto() -> None:
    assert "preset" not in DataSpec(path="a.jsonl", task="open").model_dump()
    assert DataSpec(path="a.jsonl", task="open", preset="chat").model_dump()["preset"] == "chat"
    with pytest.raises(ValidationError, match="preset"):
        DataSpec(path="a.jsonl", task="open", preset="chatml")
    with pytest.raises(ValidationError, match="format 'squad' has its own shape"):
        DataSpec(path="a.json", task="extractive", format="squad", preset="chat")


# ---- row errors inside a shape ----------------------------------------------------------------

@pytest.mark.parametrize(("row", "field", "fragment"), [
    (chat(("user", "Q?")), "messages", "last message must be the assistant's answer; found a 'user' message"),
    ({"messages": []}, "messages", "found nothing"),
    (chat(SYSTEM, ("assistant", "A.")), "messages", "must follow a user message"),
    (chat(("user", "Q?"), ("tool", "{}"), ("assistant", "A.")), "messages", "message 1 has role 'tool'"),
    ({"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "A."}]}, "messages",
     "message 0 (user): content must be a string, got NoneType"),
    ({"messages": ["Q?", "A."]}, "messages", "message 0 is a str"),
    ({"messages": "Q? A."}, "messages", "expected a list of chat messages"),
    ({"prompt": [{"role": "assistant", "content": "A."}], "completion": "B"}, "prompt", "must end with a user message"),
    ({"prompt": "Q?", "completion": [{"role": "assistant", "content": "A"}, {"role": "user", "content": "B"}]},
     "completion", "exactly one assistant message"),
    ({"instruction": "Q?", "output": "A.", "history": [["only one"]]}, "history", "pair 0 must be"),
    ({"instruction": "Q?", "output": "A.", "system": 3}, "system", "expected a string"),
    (chat(("user", " "), ("assistant", "A.")), "instruction", "(from the last user message)"),
])
def test_row_errors_name_file_line_and_field(tmp_path: Path, row: dict[str, Any], field: str, fragment: str) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [ONE_TURN, row] if "messages" in row else [row, row])
    preset = {"prompt": "prompt_completion", "instruction": "alpaca"}.get(next(iter(row)), "chat")
    err = error_of(path, "open", preset=preset)
    assert_located(err, "bad.jsonl", "bad.jsonl:" + ("2" if "messages" in row else "1"), field)
    assert fragment in str(err)


def test_skip_invalid_counts_bad_chat_rows(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mix.jsonl", [ONE_TURN, chat(("user", "Q?")), TWO_TURNS])
    result = load(path, "math", skip_invalid=True)
    assert [r.final for r in result.records] == [7.0, 40.0]
    assert [(s.where, s.field) for s in result.skipped] == [(f"{path}:2", "messages")]
    assert isinstance(result.records[1], MathRecord)


def test_detect_takes_the_preset_then_a_conversation_then_the_tasks_own_fields_then_a_shape() -> None:
    conversational = {"prompt": [{"role": "user", "content": "Name a river."}], "completion": "The Oslet."}
    assert detect("none", ONE_TURN, "f:1", own_fields=False) is None
    assert detect("chat", ONE_TURN, "f:1", own_fields=True) is SHAPES["chat"]
    assert detect("auto", conversational, "f:1", own_fields=True) is SHAPES["prompt_completion"]
    assert detect("auto", ONE_TURN, "f:1", own_fields=True) is None  # the task's own fields win
    assert detect("auto", ONE_TURN, "f:1", own_fields=False) is SHAPES["chat"]
    assert detect("auto", {"text": "no shape"}, "f:1", own_fields=False) is None


def test_first_row_decides_the_shape_and_its_mapping_then_checks_the_mapped_columns() -> None:
    fields = ["id", "question", "answers"]
    shape, mapping = first_row("auto", ONE_TURN, "f:1", {"id": ["messages"]}, fields, False, None)
    assert shape is SHAPES["chat"]
    assert mapping == {"history": ["history"], "question": ["prompt"], "answers": ["completion"], "id": ["messages"]}
    assert first_row("auto", {"question": "q"}, "f:1", {}, fields, True, None) == (None, {})
    with pytest.raises(DataError, match="mapped to column 'prompt'") as error:  # no shape makes 'prompt' here
        first_row("none", ONE_TURN, "f:1", {"question": ["prompt"]}, fields, False, "short records")
    assert error.value.field == "question"
    with pytest.raises(DataError, match=r"no known shape: tried .* and short records; the row has columns text"):
        first_row("auto", {"text": "no shape"}, "f:1", {}, fields, False, "short records")
