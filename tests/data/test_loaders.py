"""Loaders: every raw format, every row error (located by file, line/record and field), selection."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from lorabench.data.loaders import LoadResult, load_records
from lorabench.data.readers import detect_format
from lorabench.data.records import save_records
from lorabench.tasks.choice import ChoiceRecord
from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.tasks.math import MathRecord
from lorabench.tasks.open_answers import OpenRecord
from lorabench.data.spec import DataSpec, parse_slice, slice_range
from lorabench.core.errors import DataError


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def load(path: Path, task: str, **kwargs: Any) -> LoadResult:
    return load_records(DataSpec(path=path, task=task, **kwargs))


def error_of(path: Path, task: str, **kwargs: Any) -> DataError:
    with pytest.raises(DataError) as info:
        load(path, task, **kwargs)
    return info.value


def assert_located(err: DataError, file: str, where: str, field: str | None) -> None:
    message = str(err)
    assert file in message and where in message, message
    if field is not None:
        assert err.field == field and f"field '{field}'" in message, message


GSM = [
    {"question": "Tom has 3 apples and buys 2. How many?", "answer": "3+2=5\n#### 5"},
    {"question": "A box holds 12 eggs. How many in 2 boxes?", "answer": "12*2=24\n#### 24"},
]
SQUAD_CTX = "Denver Broncos won Super Bowl 50 in Santa Clara."


def squad_doc(v2: bool) -> dict[str, Any]:
    qas: list[dict[str, Any]] = [
        {"id": "q1", "question": "Who won?", "answers": [{"text": "Denver Broncos", "answer_start": 0},
                                                         {"text": "Denver Broncos", "answer_start": 0}]},
        {"id": "q2", "question": "Where?", "answers": [{"text": "Santa Clara", "answer_start": 37}]},
    ]
    if v2:
        qas[0]["is_impossible"] = qas[1]["is_impossible"] = False
        qas.append({"id": "q3", "question": "Who lost?", "answers": [], "is_impossible": True,
                    "plausible_answers": [{"text": "Carolina", "answer_start": 0}]})
    return {"version": "v2.0" if v2 else "1.1",
            "data": [{"title": "SB50", "paragraphs": [{"context": SQUAD_CTX, "qas": qas}]}]}


# ---- JSONL / GSM8K ----------------------------------------------------------------------------

def test_gsm8k_final_number_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps(GSM[0]) + "\n\n   \n" + json.dumps(GSM[1]) + "\n", encoding="utf-8")
    for fmt in ("auto", "gsm8k"):
        result = load(path, "math", format=fmt)
        assert [r.final for r in result.records] == [5.0, 24.0]
        assert all(isinstance(r, MathRecord) for r in result.records)
        assert result.rows_read == 2 and "2 math records" in result.summary()


def test_malformed_json_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(GSM[0]) + "\n" + '{"question": "x", "answer":\n', encoding="utf-8")
    err = error_of(path, "math")
    assert_located(err, "bad.jsonl", "bad.jsonl:2", None)
    assert "malformed JSON" in str(err)


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    err = error_of(write_jsonl(tmp_path / "list.jsonl", [GSM[0], [1, 2]]), "math")
    assert_located(err, "list.jsonl", "list.jsonl:2", None)
    assert "expected a JSON object, got list" in str(err)


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(json.dumps(GSM[0]).encode() + b"\n" + b'{"question": "caf\xe9", "answer": "#### 1"}\n')
    err = error_of(path, "math")
    assert_located(err, "latin.jsonl", "latin.jsonl:2", None)
    assert "UTF-8" in str(err)


def test_math_answer_without_final_number(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [GSM[0], {"question": "q?", "answer": "it is five"}])
    assert_located(error_of(path, "math"), "m.jsonl", "m.jsonl:2", "answer")


def test_missing_and_empty_required_fields(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "open.jsonl", [{"instruction": "Say hi", "response": "hi"},
                                                 {"instruction": "Say bye"}])
    err = error_of(path, "open")
    assert_located(err, "open.jsonl", "open.jsonl:2", "response")
    assert "missing" in str(err)
    path = write_jsonl(tmp_path / "empty.jsonl", [{"instruction": "   ", "response": "hi"}])
    assert_located(error_of(path, "open"), "empty.jsonl", "empty.jsonl:1", "instruction")


def test_empty_file_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("\n  \n", encoding="utf-8")
    assert "file is empty" in str(error_of(tmp_path / "e.jsonl", "math"))
    assert "no such file" in str(error_of(tmp_path / "nope.jsonl", "math"))
    (tmp_path / "e.json").write_text("[]", encoding="utf-8")
    assert "no rows" in str(error_of(tmp_path / "e.json", "math"))


# ---- ids --------------------------------------------------------------------------------------

def test_duplicate_ids_name_both_locations(tmp_path: Path) -> None:
    rows = [{"id": 7, **GSM[0]}, {"id": "8", **GSM[1]}, {"id": "7", **GSM[1]}]
    err = error_of(write_jsonl(tmp_path / "d.jsonl", rows), "math")
    assert_located(err, "d.jsonl", "d.jsonl:3", "id")
    assert "d.jsonl:1" in str(err)
    result = load(tmp_path / "d.jsonl", "math", skip_invalid=True)
    assert [r.id for r in result.records] == ["7", "8"]
    assert [(s.where, s.field) for s in result.skipped] == [(f"{tmp_path / 'd.jsonl'}:3", "id")]


def test_content_ids_are_stable_under_reordering(tmp_path: Path) -> None:
    rows = [GSM[0], GSM[1], GSM[0]]
    first = load(write_jsonl(tmp_path / "gsm.jsonl", rows), "math").records
    ids = [r.id for r in first]
    assert ids[0].startswith("gsm-") and ids[2] == ids[0] + "-2" and len(set(ids)) == 3
    again = load(write_jsonl(tmp_path / "gsm.jsonl", rows[::-1]), "math").records
    assert {r.id: r.question for r in again} == {r.id: r.question for r in first}


def test_skip_invalid_counts_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "mix.jsonl"
    path.write_text("\n".join([json.dumps(GSM[0]), "{oops", json.dumps({"question": "q"}),
                               json.dumps(GSM[1])]) + "\n", encoding="utf-8")
    result = load(path, "math", skip_invalid=True)
    assert len(result.records) == 2 and result.rows_read == 4
    assert [(s.where.rsplit(":", 1)[1], s.field) for s in result.skipped] == [("2", None), ("3", "answer")]
    assert "2 invalid skipped" in result.summary()


def test_all_rows_invalid_is_an_error_even_when_skipping(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"question": "q", "answer": "none"}])
    err = error_of(path, "math", skip_invalid=True)
    assert "no valid records" in str(err) and "bad.jsonl:1" in str(err) and err.field == "answer"


def test_roundtrip_of_saved_records(tmp_path: Path) -> None:
    records = load(write_jsonl(tmp_path / "g.jsonl", GSM), "math").records
    save_records(records, tmp_path / "saved.jsonl")
    assert load(tmp_path / "saved.jsonl", "math").records == records


# ---- choice -----------------------------------------------------------------------------------

def test_choice_shapes(tmp_path: Path) -> None:
    rows = [
        {"question": "Q1", "options": ["x", "y", "z"], "answer": "b"},
        {"question": "Q2", "options": {"B": "y", "A": "x"}, "answer": "A"},
        {"question": "Q3", "choices": ["x", "y", "z", "w"], "answer": 3},  # MMLU: 0-based index
        {"question": "Q4", "options": ["red", "blue"], "answer": "Blue"},  # option text
        {"question": "Q5", "choices": {"text": ["p", "q"], "label": ["1", "2"]}, "answerKey": "2"},  # ARC
        {"question": "Q6", "options": ["p", "q"], "answer": "B) q"},
    ]
    result = load(write_jsonl(tmp_path / "c.jsonl", rows), "choice")
    assert [r.answer for r in result.records] == ["B", "A", "D", "B", "B", "B"]
    assert result.records[1].options == ["x", "y"]
    assert all(isinstance(r, ChoiceRecord) for r in result.records)


def test_options_without_the_answer_label(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "c.jsonl", [{"question": "Q", "options": ["x", "y", "z"], "answer": "D"}])
    err = error_of(path, "choice")
    assert_located(err, "c.jsonl", "c.jsonl:1", "answer")
    assert "not one of the options ABC" in str(err)
    path = write_jsonl(tmp_path / "i.jsonl", [{"question": "Q", "choices": ["x", "y"], "answer": 5}])
    assert_located(error_of(path, "choice"), "i.jsonl", "i.jsonl:1", "answer")


def test_bad_options(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "o.jsonl", [{"question": "Q", "options": ["x", ""], "answer": "A"}])
    assert_located(error_of(path, "choice"), "o.jsonl", "o.jsonl:1", "options")
    path = write_jsonl(tmp_path / "k.jsonl", [{"question": "Q", "options": {"A": "x", "C": "y"}, "answer": "A"}])
    assert_located(error_of(path, "choice"), "k.jsonl", "k.jsonl:1", "options")


def test_qa_folder_natural_order_ids_and_rephrased(tmp_path: Path) -> None:
    folder = tmp_path / "qa"
    folder.mkdir()
    def pair(n: int) -> dict[str, Any]:
        return {"question": f"Q{n}", "rephrased_question": f"R{n}", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
                "ground_truth_correct_option": "C"}
    for n in (10, 2):
        (folder / f"qa_{n}.json").write_text(json.dumps({"qa_pairs": [pair(n), pair(n + 1)]}), encoding="utf-8")
    (folder / "notes.json").write_text("{}", encoding="utf-8")
    result = load(folder, "choice")
    assert [r.id for r in result.records] == ["qa_2-0", "qa_2-1", "qa_10-0", "qa_10-1"]
    assert [r.question for r in result.records] == ["Q2", "Q3", "Q10", "Q11"]
    assert {r.answer for r in result.records} == {"C"}
    rephrased = load(folder, "choice", question_field="rephrased_question")
    assert [r.question for r in rephrased.records][:2] == ["R2", "R3"]


def test_qa_folder_errors(tmp_path: Path) -> None:
    folder = tmp_path / "qa"
    folder.mkdir()
    assert "no qa_*.json" in str(error_of(folder, "choice"))
    (folder / "qa_1.json").write_text(json.dumps({"qa_pairs": [
        {"question": "Q", "options": ["a", "b"], "ground_truth_correct_option": "A"},
        {"question": "Q", "options": ["a", "b"], "ground_truth_correct_option": "E"}]}), encoding="utf-8")
    assert_located(error_of(folder, "choice"), "qa_1.json", "qa_1.json: qa_pairs[1]", "answer")


# ---- SQuAD ------------------------------------------------------------------------------------

def test_squad_v11(tmp_path: Path) -> None:
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps(squad_doc(v2=False)), encoding="utf-8")
    assert detect_format(path) == "squad"
    records = load(path, "extractive").records
    assert [r.id for r in records] == ["q1", "q2"]
    assert records[0].answers == ["Denver Broncos"] and records[0].title == "SB50"
    assert all(isinstance(r, ExtractiveRecord) and not r.unanswerable for r in records)


def test_squad_v2_keep_and_exclude(tmp_path: Path) -> None:
    path = tmp_path / "dev-v2.0.json"
    path.write_text(json.dumps(squad_doc(v2=True)), encoding="utf-8")
    kept = load(path, "extractive", format="squad")
    assert [r.unanswerable for r in kept.records] == [False, False, True]
    assert kept.records[2].answers == [] and kept.excluded_unanswerable == 0
    excluded = load(path, "extractive", unanswerable="exclude")
    assert [r.id for r in excluded.records] == ["q1", "q2"]
    assert excluded.excluded_unanswerable == 1 and "1 unanswerable excluded" in excluded.summary()


def test_squad_error_names_the_question(tmp_path: Path) -> None:
    doc = squad_doc(v2=False)
    doc["data"][0]["paragraphs"][0]["qas"][1]["question"] = ""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert_located(error_of(path, "extractive"), "s.json", "s.json: data[0].paragraphs[0].qas[1]", "question")


def test_hf_squad_answers_and_v2_empty_answers(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "context": SQUAD_CTX, "question": "Who?", "answers": {"text": ["Denver"], "answer_start": [0]}},
        {"id": "b", "context": SQUAD_CTX, "question": "Nobody?", "answers": {"text": [], "answer_start": []}},
        {"id": "c", "context": SQUAD_CTX, "question": "Where?", "answer": "Santa Clara"},
    ]
    records = load(write_jsonl(tmp_path / "s.jsonl", rows), "extractive").records
    assert [(r.answers, r.unanswerable) for r in records] == [(["Denver"], False), ([], True), (["Santa Clara"], False)]


# ---- JSON list, CSV, Parquet ------------------------------------------------------------------

def test_json_list_and_jsonl_named_json(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps([{"instruction": "i", "response": "r"}, "oops"]), encoding="utf-8")
    assert_located(error_of(path, "open"), "list.json", "list.json: record 1", None)
    lines = write_jsonl(tmp_path / "lines.json", GSM)
    assert detect_format(lines) == "jsonl" and len(load(lines, "math").records) == 2


def test_dolly_fields_and_mapping(tmp_path: Path) -> None:
    rows = [{"instruction": "Summarise", "context": "Long text.", "response": "Short.", "category": "summarization"}]
    record = load(write_jsonl(tmp_path / "dolly.jsonl", rows), "open").records[0]
    assert isinstance(record, OpenRecord) and record.context == "Long text." and record.category == "summarization"
    rows = [{"q": "What?", "sol": "x\n#### 3", "extra": 1}]
    mapped = load(write_jsonl(tmp_path / "m.jsonl", rows), "math", fields={"question": "q", "answer": "sol"})
    assert mapped.records[0].question == "What?" and mapped.records[0].final == 3.0


def test_mapping_to_a_missing_column_fails_even_when_skipping(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", GSM)
    err = error_of(path, "math", fields={"question": "prompt"}, skip_invalid=True)
    assert_located(err, "m.jsonl", "m.jsonl:1", "question")
    assert "'prompt'" in str(err) and "columns: question, answer" in str(err)


def test_field_mapping_names_the_column_in_errors(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "m.jsonl", [{"q": "", "a": "#### 1"}])
    err = error_of(path, "math", fields={"question": "q", "answer": "a"})
    assert_located(err, "m.jsonl", "m.jsonl:1", "question")
    assert "from column 'q'" in str(err)


def test_csv_with_quoted_newlines_and_letter_columns(tmp_path: Path) -> None:
    path = tmp_path / "mmlu.csv"
    path.write_text('question,A,B,C,D,answer,subject\n"Multi\nline?",w,x,y,z,C,s\nQ2,w,x,y,z,Q,s\n',
                    encoding="utf-8")
    err = error_of(path, "choice")
    assert_located(err, "mmlu.csv", "mmlu.csv:4", "answer")  # row 2 starts on physical line 4
    result = load(path, "choice", skip_invalid=True)
    assert result.records[0].options == ["w", "x", "y", "z"] and result.records[0].answer == "C"


def test_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("question,answer\nQ,#### 1\nQ2,#### 2,extra\n", encoding="utf-8")
    assert_located(error_of(path, "math"), "bad.csv", "bad.csv:3", None)
    path.write_bytes(b"question,answer\nQ,#### 1\nQ\xff,#### 2\n")
    assert_located(error_of(path, "math"), "bad.csv", "bad.csv:3", None)
    path.write_text("question,answer\nQ,#### 1\n,#### 2\n", encoding="utf-8")
    assert_located(error_of(path, "math"), "bad.csv", "bad.csv:3", "question")


def test_parquet(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"id": [1, 2, 3], "question": ["Q1", "Q2", "Q3"],
                      "choices": [["a", "b"], ["a", "b"], ["a", "b"]], "answer": [0, 1, 4]})
    pq.write_table(table, tmp_path / "mc.parquet")
    err = error_of(tmp_path / "mc.parquet", "choice")
    assert_located(err, "mc.parquet", "mc.parquet: record 2", "answer")
    result = load(tmp_path / "mc.parquet", "choice", skip_invalid=True)
    assert [(r.id, r.answer) for r in result.records] == [("1", "A"), ("2", "B")]


def test_pandas_parquet_with_missing_optional_values(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"instruction": ["a", "b"], "response": ["r", "s"], "category": ["c", None]})
    frame.to_parquet(tmp_path / "o.parquet")
    records = load(tmp_path / "o.parquet", "open").records
    assert [r.category for r in records] == ["c", None]


# ---- HF ---------------------------------------------------------------------------------------

def test_hf_dataset_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list([dict(g) for g in GSM * 3]).save_to_disk(str(tmp_path / "gsm"))
    result = load_records(DataSpec(hf=str(tmp_path / "gsm"), split="train[:4]", task="math"))
    assert len(result.records) == 4 and result.records[1].final == 24.0
    assert result.records[2].id.endswith("-2")
    assert result.source.startswith("hf:")


def test_hf_load_dataset_is_called_and_rows_located(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, config: str | None, split: str) -> Any:
        calls.append((name, config, split))
        return [{"question": "Q", "choices": ["a", "b"], "answer": 1}, {"question": "Q", "choices": ["a"], "answer": 0}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    spec = DataSpec(hf="cais/mmlu", hf_config="all", split="test", task="choice")
    with pytest.raises(DataError) as info:
        load_records(spec)
    assert_located(info.value, "hf:cais/mmlu/test", "hf:cais/mmlu/test: record 1", "options")
    assert calls == [("cais/mmlu", "all", "test")]


# ---- selection --------------------------------------------------------------------------------

def test_slices(tmp_path: Path) -> None:
    rows = [{"id": str(i), "question": f"Q{i}", "answer": f"#### {i}"} for i in range(20)]
    path = write_jsonl(tmp_path / "n.jsonl", rows)
    ids = lambda **kw: [r.id for r in load(path, "math", **kw).records]  # noqa: E731
    assert ids(slice="[:3]") == ["0", "1", "2"]
    assert ids(slice="[5:7]") == ["5", "6"]
    assert ids(slice="[:10%]") == ["0", "1"]
    assert ids(slice="[-2:]") == ["18", "19"]
    assert "slice [:3] kept 3" in load(path, "math", slice="[:3]").summary()
    assert "selects no records" in str(error_of(path, "math", slice="[50:]"))


def test_seeded_sample_is_reproducible_and_ordered(tmp_path: Path) -> None:
    rows = [{"id": str(i), "question": f"Q{i}", "answer": f"#### {i}"} for i in range(50)]
    path = write_jsonl(tmp_path / "n.jsonl", rows)
    a = [r.id for r in load(path, "math", sample=5, seed=1).records]
    assert a == [r.id for r in load(path, "math", sample=5, seed=1).records]
    assert a != [r.id for r in load(path, "math", sample=5, seed=2).records]
    assert a == sorted(a, key=int) and len(set(a)) == 5
    after_slice = [r.id for r in load(path, "math", slice="[:10]", sample=3).records]
    assert len(after_slice) == 3 and all(int(i) < 10 for i in after_slice)
    assert len(load(path, "math", sample=500).records) == 50


def test_parse_slice() -> None:
    assert parse_slice("[:1000]") == (None, "1000")
    assert parse_slice("100:200") == ("100", "200")
    assert list(slice_range("[10%:20%]", 30)) == [3, 4, 5]
    with pytest.raises(ValueError):
        parse_slice("[a:b]")


# ---- spec validation --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"task": "math"}, "exactly one of 'path'"),
        ({"path": "a", "hf": "b", "task": "math"}, "exactly one of 'path'"),
        ({"path": "a", "task": "math", "slice": "[1:x]"}, "slice '[1:x]' is not understood"),
        ({"path": "a", "task": "math", "fields": {"prompt": "q"}}, "'prompt' is not a field of math records"),
        ({"path": "a", "task": "math", "format": "squad"}, "format 'squad' holds extractive data"),
        ({"path": "a", "task": "math", "format": "hf"}, "format 'hf' needs 'hf'"),
        ({"hf": "squad", "task": "extractive", "format": "csv"}, "use 'path' instead"),
        ({"path": "a", "task": "math", "sample": 0}, "sample"),
        ({"path": "a", "task": "math", "colour": "red"}, "colour"),
        ({"path": "a", "task": "maths"}, "task"),
    ],
)
def test_spec_validation(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        DataSpec(**kwargs)
    assert fragment in str(info.value)


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "d.txt").write_text("hello", encoding="utf-8")
    assert "cannot tell the format" in str(error_of(tmp_path / "d.txt", "math"))
