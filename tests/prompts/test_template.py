"""Prompt templates: what a template sees, the F1 example, strict undefined variables, the frame."""

from __future__ import annotations

import pytest
import yaml

from lorabench.config.run import load_config
from lorabench.tasks.choice import ChoiceRecord
from lorabench.tasks.extractive import ExtractiveRecord
from lorabench.tasks.math import MathRecord
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import get_task
from lorabench.prompts.answers import AnswerFrame
from lorabench.prompts.template import answer_frame, lettered, prompt_variables, render, syntax_problem
from lorabench.prompts.build import PromptSettings, build_prompt, target_text, user_message
from tests.tiny_models import build_causal_tokenizer

F1 = ChoiceRecord(
    id="f1-7", question="Which driver won the 2008 championship?",
    options=["Lewis Hamilton", "Felipe Massa", "Kimi Räikkönen"], answer="A", extra={"season": 2008, "round": "22"},
)
F1_SETTINGS = PromptSettings(
    chat_template="off",
    template="You are a knowledgeable Formula 1 expert. Answer the question briefly and accurately.\n"
             "Question: {{ question }}\nOptions:\n{{ options | lettered(': ') }}\n",
    answer_prefix="Answer:",
)
EXTRACTIVE = ExtractiveRecord(
    id="e1", context="Velmora lies on the Oslet river. It was founded in 1842.", question="When was Velmora founded?",
    answers=["1842", "in 1842"], title="Velmora", extra={"difficulty": "easy"},
)


@pytest.fixture(scope="module")
def tokenizer():
    return build_causal_tokenizer()


def test_the_formula_1_prompt_is_expressible_exactly(tokenizer):
    prompt = build_prompt(F1, tokenizer, F1_SETTINGS)
    assert prompt.text == (
        "You are a knowledgeable Formula 1 expert. Answer the question briefly and accurately.\n"
        "Question: Which driver won the 2008 championship?\n"
        "Options:\nA: Lewis Hamilton\nB: Felipe Massa\nC: Kimi Räikkönen\n"
        "Answer:"
    )
    assert prompt.target == "A" and not prompt.chat


def test_a_template_sees_fields_extra_columns_labels_and_the_task_instruction():
    variables = prompt_variables(EXTRACTIVE, "Answer briefly.", "Velmora lies ...")
    assert variables["question"] == EXTRACTIVE.question and variables["title"] == "Velmora"
    assert variables["context"] == "Velmora lies ..."  # the context as shortened to fit
    assert variables["difficulty"] == "easy" and variables["extra"] == {"difficulty": "easy"}
    assert variables["task_instruction"] == "Answer briefly."
    assert "answers" not in variables and "unanswerable" not in variables  # the gold stays out of prompts
    text = user_message(F1, PromptSettings(template="{{ season }}/{{ extra['round'] }} {{ labels | join('') }}"))
    assert text == "2008/22 ABC"


def test_lettered_writes_one_labelled_line_per_option():
    assert lettered(["red", "blue"]) == "A. red\nB. blue"
    assert lettered(["red", "blue"], ": ") == "A: red\nB: blue"


def test_an_undefined_variable_names_the_template_the_variable_and_the_record():
    settings = PromptSettings(template="{{ question }} ({{ difficulty }})")
    with pytest.raises(LorabenchError, match=r"prompt.template: record c1: undefined variable 'difficulty'; this record has"):
        user_message(ChoiceRecord(id="c1", question="q?", options=["x", "y"], answer="A"), settings)
    with pytest.raises(LorabenchError, match="undefined variable 'answer'; the gold answer is only available to prompt.target_template"):
        user_message(F1, PromptSettings(template="{{ question }} {{ answer }}"))
    with pytest.raises(LorabenchError, match=r"prompt.target_template: record e1: undefined variable 'solution'"):
        target_text(EXTRACTIVE, PromptSettings(target_template="{{ solution }}"))


def test_templates_run_sandboxed():
    with pytest.raises(LorabenchError, match="prompt.template: record f1-7"):
        render("{{ question.__class__.__mro__[1].__subclasses__() }}", "prompt.template", {"question": "q"}, "f1-7")


def test_a_syntax_error_is_reported_when_the_config_is_loaded(tmp_path):
    assert syntax_problem("{{ question }}") is None
    assert syntax_problem("{% if x %}").startswith("template syntax error at line 1:")
    path = tmp_path / "run.yaml"
    config = {"model": "m", "task": "choice", "data": {"source": "d.jsonl"},
              "prompt": {"chat_template": "off", "template": "Question: {{ question }\n"}}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    with pytest.raises(LorabenchError, match=r"run.yaml:7: prompt.template: template syntax error at line 1"):
        load_config(path)


def test_target_template_renders_the_trained_answer_and_its_frame_comes_off_generations():
    settings = PromptSettings(target_template="Answer: {{ answer }}.")
    assert target_text(EXTRACTIVE, settings) == "Answer: 1842."
    frame = answer_frame(settings.target_template, "prompt.target_template", EXTRACTIVE, get_task(EXTRACTIVE.task))
    assert frame == AnswerFrame("Answer:", ".")
    assert frame.strip("Answer: 1842.") == "1842" and frame.strip("1842") == "1842"
    choice = target_text(F1, PromptSettings(target_template="{{ answer }}. {{ answer_text }}"))
    assert choice == "A. Lewis Hamilton"
    math = MathRecord(id="m1", question="3 + 4?", answer="3 + 4 = 7\n#### 7")
    assert answer_frame("{{ answers }}", "prompt.target_template", EXTRACTIVE, get_task(EXTRACTIVE.task)) == AnswerFrame()  # no {{ answer }}
    assert target_text(math, PromptSettings(target_template="{{ answer }}")) == math.answer
    with pytest.raises(LorabenchError, match="renders to empty text"):
        target_text(math, PromptSettings(target_template="{% if false %}{{ answer }}{% endif %}"))
