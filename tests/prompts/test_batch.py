"""The batch strategy: one numbered prompt per context, and the parser that maps answers back."""

from __future__ import annotations

import pytest

from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.prompts.answers import no_answer_to_empty
from lorabench.prompts.build import NO_ANSWER, PromptBuilder, PromptSettings, build_prompt
from lorabench.prompts.batch import (
    batch_target,
    build_batch_prompt,
    cut_batch_output,
    parse_numbered_answers,
)
from tests.tiny_models import build_causal_tokenizer

CONTEXT = "Velmora lies on the Oslet river. It was founded in 1842 by Anna Brell."
GROUP = [
    ExtractiveRecord(id="q1", context=CONTEXT, question="When was Velmora founded?", answers=["1842"]),
    ExtractiveRecord(id="q2", context=CONTEXT, question="Who founded Velmora?", answers=["Anna Brell"]),
    ExtractiveRecord(id="q3", context=CONTEXT, question="Who is the mayor?", answers=[], unanswerable=True),
]


@pytest.fixture(scope="module")
def tokenizer():
    return build_causal_tokenizer()


@pytest.mark.parametrize(
    "text, answers, errors, extra",
    [
        # the accepted label formats, mixed
        ("1. 1842\n2) Anna Brell\n3: none", ("1842", "Anna Brell", "none"), (None, None, None), 0),
        ("Answer 1: 1842\nanswer 2: Anna Brell\n3 - x", ("1842", "Anna Brell", "x"), (None, None, None), 0),
        ("**1.** 1842\n- 2. Anna Brell\n#3) x", ("1842", "Anna Brell", "x"), (None, None, None), 0),
        # blank lines between answers are nothing
        ("\n1. a\n\n\n2. b\n\n3. c\n", ("a", "b", "c"), (None, None, None), 0),
        # reordered numbers go to their own questions
        ("3. c\n1. a\n2. b", ("a", "b", "c"), (None, None, None), 0),
        # a missing line is a failure of that question only; later answers are not shifted onto it
        ("1. a\n3. c", ("a", None, "c"), (None, "missing", None), 0),
        # extra lines: a header, an unnumbered note, a number beyond n
        ("Answers:\n1. a\nsee the text\n2. b\n3. c\n4. d", ("a", "b", "c"), (None, None, None), 3),
        # unnumbered output is never assigned by position
        ("1842\nAnna Brell\nunanswerable", (None, None, None), ("missing",) * 3, 3),
        # conflicting duplicates fail that question; an identical repeat is only an extra line
        ("1. a\n1. b\n2. c\n2. c\n3. d", (None, "c", "d"), ("duplicate", None, None), 2),
        # a label with nothing after it is no answer
        ("1.\n2. b\n3. c", (None, "b", "c"), ("empty", None, None), 0),
        # numbers inside answers are not labels
        ("3.14 metres\n1:30 pm", (None, None, None), ("missing",) * 3, 2),
        # 'unanswerable' is an answer (scored as the empty answer), not a failure
        ("1. unanswerable\n2. Unanswerable.\n3. x", ("unanswerable", "Unanswerable.", "x"), (None, None, None), 0),
    ],
)
def test_parser(text, answers, errors, extra):
    parsed = parse_numbered_answers(text, 3)
    assert parsed.answers == answers
    assert parsed.errors == errors
    assert parsed.extra_lines == extra
    assert parsed.failures == sum(e is not None for e in errors)


def test_unanswerable_answers_score_as_empty():
    parsed = parse_numbered_answers("1. unanswerable\n2. Unanswerable.", 2)
    assert [no_answer_to_empty(a) for a in parsed.answers] == ["", ""]


def test_complete_marks_lines_that_were_ended_not_cut():
    assert parse_numbered_answers("1. a\n2. Anna Br", 3).complete == (True, False, False)
    assert parse_numbered_answers("1. a\n2. b\n", 2).complete == (True, True)


def test_output_is_cut_at_a_new_item_but_not_at_a_line_break():
    assert cut_batch_output("1. a\n2. b\nContext: more text") == "1. a\n2. b"
    assert cut_batch_output("1. a\n2. b\n\nQuestion: next") == "1. a\n2. b\n"
    assert cut_batch_output("1. a\n2. b") == "1. a\n2. b"


@pytest.mark.parametrize("chat_template", ["auto", "off"])
def test_prompt_holds_the_context_once_and_every_question_numbered(tokenizer, chat_template):
    prompt = build_batch_prompt(GROUP, PromptBuilder(tokenizer, PromptSettings(chat_template=chat_template)))
    assert prompt.text.count(CONTEXT) == 1
    assert "1. When was Velmora founded?\n2. Who founded Velmora?\n3. Who is the mayor?" in prompt.text
    assert prompt.record_id == "q1" and not prompt.shortened
    assert prompt.target == f"1. 1842\n2. Anna Brell\n3. {NO_ANSWER}" == batch_target(GROUP)
    assert prompt.text.endswith("Answers:" if chat_template == "off" else "<|im_start|>assistant\n")


def test_unanswerable_hint_is_a_setting(tokenizer):
    assert NO_ANSWER in build_batch_prompt(GROUP, PromptBuilder(tokenizer, PromptSettings(unanswerable_hint=True))).text
    assert NO_ANSWER not in build_batch_prompt(GROUP, PromptBuilder(tokenizer, PromptSettings())).text


def test_long_context_is_shortened_never_a_question(tokenizer):
    long_context = " ".join(f"Sentence {i} about Velmora." for i in range(200))
    group = [r.model_copy(update={"context": long_context}) for r in GROUP]
    prompt = build_batch_prompt(group, PromptBuilder(tokenizer, PromptSettings(max_prompt_tokens=240)))
    assert prompt.shortened and prompt.n_tokens <= 240
    assert "Sentence 0 about" in prompt.text and "Sentence 199" not in prompt.text
    for record in group:
        assert record.question in prompt.text


def test_single_prompts_are_unchanged_by_the_strategy_field(tokenizer):
    # 'single' is the default and leaves no trace in saved settings, so old runs still match.
    assert "strategy" not in PromptSettings().model_dump(mode="json")
    assert PromptSettings(strategy="batch").model_dump(mode="json")["strategy"] == "batch"
    assert build_prompt(GROUP[0], tokenizer, PromptSettings(strategy="single")) == build_prompt(GROUP[0], tokenizer, PromptSettings())
