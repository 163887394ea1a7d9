import json
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest

from lorabench.data.records import TaskKind, record_to_row, record_type

from lorabench.tasks.choice import ChoiceRecord

from lorabench.tasks.extractive import ExtractiveRecord

from lorabench.tasks.math import MathRecord

from lorabench.tasks.open_answers import OpenRecord
from lorabench.data.synth import _ORG_KINDS, _REAL_WORDS, synthesize, write_synth
from lorabench.data.synth import Namer as _Namer

TASKS = [kind.value for kind in TaskKind]


def _rows(records):
    return [record_to_row(r) for r in records]


@pytest.mark.parametrize("task", TASKS)
def test_exactly_n_valid_records(task):
    for n in (1, 2, 7, 23):
        records = synthesize(task, n, seed=3)
        assert len(records) == n
        assert all(isinstance(r, record_type(task)) for r in records)
        assert len({r.id for r in records}) == n
        # Rebuilding from the canonical row re-runs validation.
        for row in _rows(records):
            record_type(task)(**row)


@pytest.mark.parametrize("task", TASKS)
def test_deterministic_per_seed(task):
    assert _rows(synthesize(task, 30, seed=5)) == _rows(synthesize(TaskKind(task), 30, seed=5))
    assert _rows(synthesize(task, 30, seed=5)) != _rows(synthesize(task, 30, seed=6))


def test_output_does_not_depend_on_hash_seed():
    # A fresh interpreter with another PYTHONHASHSEED catches reliance on hash() or set order.
    code = (
        "import json; from lorabench.data.synth import synthesize; from lorabench.data.records import record_to_row; "
        "print(json.dumps({t: [record_to_row(r) for r in synthesize(t, 10, 11)] for t in %r}))" % TASKS
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == {t: _rows(synthesize(t, 10, 11)) for t in TASKS}


def test_tasks_with_same_seed_do_not_share_passages():
    ex = {r.context for r in synthesize("extractive", 20, seed=0)}
    ch = {r.context for r in synthesize("choice", 20, seed=0)}
    assert not ex & ch


@pytest.mark.parametrize("bad_n", [0, -1, 2.5, True, "3"])
def test_bad_n_raises(bad_n):
    with pytest.raises(ValueError, match="n must be"):
        synthesize("math", bad_n)


def test_unknown_task_raises():
    with pytest.raises(ValueError, match="unknown task"):
        synthesize("poetry", 3)


def test_extractive_answers_are_unique_short_spans():
    records = synthesize("extractive", 300, seed=1)
    by_context: dict[str, list[ExtractiveRecord]] = defaultdict(list)
    for r in records:
        assert len(r.answers) == 1
        answer = r.answers[0]
        assert r.context.count(answer) == 1, (answer, r.context)
        assert 1 <= len(answer.split()) <= 4
        assert answer not in r.question
        assert r.title and re.fullmatch(r"synth-s\d+-ex-\d{5}-q\d", r.id)
        by_context[r.context].append(r)
    groups = list(by_context.values())
    for i, group in enumerate(groups):
        answers = [g.answers[0] for g in group]
        assert len(set(answers)) == len(answers)
        assert len({g.question for g in group}) == len(group)
        assert 1 <= len(group) <= 8
        if i < len(groups) - 1:
            assert len(group) >= 3
        words = len(group[0].context.split())
        assert 60 <= words <= 150


def test_extractive_answers_are_not_at_a_fixed_position():
    records = synthesize("extractive", 200, seed=2)
    first_answer_sentence = Counter()
    for r in records:
        offset = r.context.index(r.answers[0])
        first_answer_sentence[r.context[:offset].count(". ")] += 1
    assert len(first_answer_sentence) >= 4


def test_choice_labels_are_spread_and_distractors_distinct():
    records = synthesize("choice", 400, seed=0)
    counts = Counter(r.answer for r in records)
    assert set(counts) == {"A", "B", "C", "D"}
    chi_square = sum((counts[label] - 100) ** 2 / 100 for label in "ABCD")
    assert chi_square < 16.3  # p ~ 0.001 for 3 degrees of freedom
    for r in records:
        assert isinstance(r, ChoiceRecord)
        assert len(r.options) == 4
        assert len(set(r.options)) == 4
        assert r.answer_text in r.context
        assert r.options.count(r.answer_text) == 1


def test_choice_distractors_have_the_answer_type():
    for r in synthesize("choice", 200, seed=4):
        if r.answer_text.isdigit():
            assert all(o.isdigit() for o in r.options)
        else:
            assert not any(o.isdigit() for o in r.options)


_STEP = re.compile(r"(\d+) ([-+*/]) (\d+) = (\d+)")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": lambda a, b: a / b}


def test_math_answers_are_correct():
    for r in synthesize("math", 200, seed=0):
        assert isinstance(r, MathRecord)
        lines = r.answer.splitlines()
        assert re.fullmatch(r"#### \d+", lines[-1])
        assert 2 <= len(lines) - 1 <= 3
        result = None
        for line in lines[:-1]:
            a, op, b, c = _STEP.search(line).groups()
            assert _OPS[op](int(a), int(b)) == int(c), line
            result = int(c)
        assert result == int(lines[-1].removeprefix("#### ")) == r.final
        assert r.final > 0


def test_open_records_have_grounded_responses():
    for r in synthesize("open", 100, seed=0):
        assert isinstance(r, OpenRecord)
        assert r.category in {"closed_qa", "information_extraction", "summarization"}
        assert r.context and r.instruction and r.response
        assert 1 <= r.response.count(". ") + 1 <= 2
        # Every capitalised name the response mentions comes from the context.
        for name in re.findall(r"\b[A-Z][a-z]+\b", r.response):
            if name not in {"The", "In", "Within"}:
                assert name in r.context, (name, r.context)


def test_names_are_invented_and_varied():
    namer = _Namer(random.Random(0))
    names = [make() for _ in range(300) for make in (namer.person, namer.place, namer.river, namer.org)]
    assert len(set(names)) == len(names)
    words = {w.lower() for name in names for w in name.split()} - {k.lower() for k in _ORG_KINDS}
    assert len(words) > 800
    assert not words & (_REAL_WORDS | {"the", "and", "river", "town", "guild"})
    assert not any(re.search(r"([aeiouy])\1|(.)\2\2", w) for w in words)


@pytest.mark.parametrize("task", TASKS)
def test_written_file_loads_back(task, tmp_path):
    path = write_synth(task, 12, 7, tmp_path / "sub" / f"{task}.jsonl")
    with open(path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    loaded = [record_type(task)(**row) for row in rows]
    assert loaded == synthesize(task, 12, 7)


def test_short_passages_are_short_and_still_carry_three_questions() -> None:
    records = synthesize("extractive", 120, seed=4, short_passages=True)
    by_context: dict[str, int] = {}
    for record in records:
        by_context[record.context] = by_context.get(record.context, 0) + 1
        assert record.answers[0] in record.context
    assert all(20 <= len(c.split()) <= 80 for c in by_context)
    assert min(list(by_context.values())[:-1]) >= 3
    assert synthesize("extractive", 120, seed=4) != records  # the default shape is unchanged and different
    with pytest.raises(ValueError, match="extractive data only"):
        synthesize("math", 3, short_passages=True)
