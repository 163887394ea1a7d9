import pytest
from pydantic import ValidationError

from lorabench.core.kinds import get_task
from lorabench.data.records import (
    TaskKind, record_type, record_to_row, records_digest, save_records, save_task_records, split_digests,
)

from lorabench.tasks.choice import ChoiceRecord

from lorabench.tasks.extractive import ExtractiveRecord

from lorabench.tasks.math import MathRecord

from lorabench.tasks.open_answers import OpenRecord


def test_extractive_requires_answers_unless_unanswerable():
    with pytest.raises(ValidationError, match="at least one answer"):
        ExtractiveRecord(id="1", context="c", question="q", answers=[])
    record = ExtractiveRecord(id="1", context="c", question="q", answers=[], unanswerable=True)
    assert record.golds == []
    with pytest.raises(ValidationError, match="unanswerable question must have no answers"):
        ExtractiveRecord(id="1", context="c", question="q", answers=["x"], unanswerable=True)


def test_group_id_is_the_normalized_context():
    a = ExtractiveRecord(id="1", context="Some  text.", question="q1", answers=["x"])
    b = ExtractiveRecord(id="2", context="Some text.", question="q2", answers=["y"])
    assert a.group_id == b.group_id
    assert OpenRecord(id="3", instruction="i", response="r").group_id == "id:3"


def test_choice_answer_must_name_an_option():
    record = ChoiceRecord(id="1", question="q", options=["x", "y", "z"], answer=" c ")
    assert record.answer == "C" and record.answer_text == "z" and record.labels == ["A", "B", "C"]
    with pytest.raises(ValidationError, match="'D' is not one of the options ABC"):
        ChoiceRecord(id="1", question="q", options=["x", "y", "z"], answer="D")
    with pytest.raises(ValidationError, match="option B is empty"):
        ChoiceRecord(id="1", question="q", options=["x", " "], answer="A")


def test_math_final_number_parsed_from_marked_answer():
    assert MathRecord(id="1", question="q", answer="3 + 4 = 7\n#### 7").final == 7.0
    assert MathRecord(id="1", question="q", answer="so \\boxed{1,250}").final == 1250.0
    with pytest.raises(ValidationError, match="no final number"):
        MathRecord(id="1", question="q", answer="the answer is 7")


def test_integer_ids_become_text_and_empty_text_is_refused():
    assert OpenRecord(id=7, instruction="i", response="r").id == "7"
    with pytest.raises(ValidationError, match="instruction must be a non-empty string"):
        OpenRecord(id="1", instruction="  ", response="r")


def test_save_and_reload_canonical_rows(tmp_path):
    records = [
        ExtractiveRecord(id="1", context="c", question="q", answers=["x"]),
        ExtractiveRecord(id="2", context="c", question="q2", answers=[], unanswerable=True),
    ]
    path = save_records(records, tmp_path / "out" / "r.jsonl")
    import json

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert "unanswerable" not in rows[0] and rows[1]["unanswerable"] is True
    assert [record_type(TaskKind.extractive)(**row) for row in rows] == records
    assert record_to_row(records[0]) == rows[0]
    assert not list(tmp_path.joinpath("out").glob(".*tmp"))


def test_the_items_fingerprint_reads_the_source_s_other_columns_only_when_asked():
    task = get_task("extractive")
    records = [ExtractiveRecord(id=str(i), context="c", question=f"q{i}", answers=["x"]) for i in range(3)]
    tagged = [r.model_copy(update={"extra": {"difficulty": "hard"}}) for r in records]
    assert records_digest(task, tagged) == records_digest(task, records)
    assert records_digest(task, tagged, extra=True) != records_digest(task, records, extra=True)
    assert records_digest(task, records, extra=True) == records_digest(task, records)  # no other columns: nothing added
    assert records_digest(task, records[:2]) != records_digest(task, records) and len(records_digest(task, records)) == 64


def test_a_run_s_split_fingerprints_read_the_other_columns_of_the_prompted_items_only_under_templates():
    task = get_task("extractive")
    records = [ExtractiveRecord(id=str(i), context="c", question=f"q{i}", answers=["x"], extra={"level": i}) for i in range(6)]
    train, validation, test = records[:3], records[3:4], records[4:]
    plain = split_digests(task, train, validation, test, templates=False)
    assert (plain.train, plain.validation, plain.test) == tuple(records_digest(task, r) for r in (train, validation, test))
    assert plain.prompted_test == plain.test and plain.prompted_training is None
    templated = split_digests(task, train, validation, test, templates=True)
    assert templated.prompted_test == records_digest(task, test, extra=True) != templated.test
    assert templated.prompted_training == records_digest(task, [*train, *validation], extra=True)
    assert (templated.train, templated.test) == (plain.train, plain.test)


def test_records_saved_by_their_task_are_saved_as_save_records_saves_them(tmp_path):
    records = [ExtractiveRecord(id=str(i), context="c", question=f"q{i}", answers=["x"]) for i in range(3)]
    records[1] = records[1].model_copy(update={"extra": {"level": "hard"}})
    by_task = save_task_records(get_task("extractive"), records, tmp_path / "by_task.jsonl")
    assert by_task.read_text() == save_records(records, tmp_path / "plain.jsonl").read_text()
    assert '"extra": {"level": "hard"}' in by_task.read_text()


def test_history_is_optional_and_leaves_records_without_it_unchanged():
    from lorabench.data.records import Turn

    plain = OpenRecord(id="1", instruction="i", response="r")
    assert OpenRecord(id="1", instruction="i", response="r", history=[]) == plain and plain.history is None
    assert "history" not in record_to_row(plain) and plain.conversation_text == "i"
    chat = OpenRecord(id="2", instruction="And in 1990?", response="r", history=[
        {"role": "system", "content": "Be terse."}, {"role": "user", "content": "Who won in 1986?"},
        {"role": "assistant", "content": "Argentina."}])
    assert chat.history[1] == Turn(role="user", content="Who won in 1986?")
    assert chat.conversation_text == "Who won in 1986?\nArgentina.\nAnd in 1990?"  # the system message is left out
    assert record_to_row(chat)["history"][2] == {"role": "assistant", "content": "Argentina."}
    assert hash(chat) != hash(plain)  # still frozen and hashable
    with pytest.raises(ValidationError, match="history"):
        OpenRecord(id="3", instruction="i", response="r", history=[{"role": "tool", "content": "x"}])
