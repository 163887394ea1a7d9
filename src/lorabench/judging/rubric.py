"""Rubrics: the judge's instructions as template files, packaged, overridable and fingerprinted.

A rubric is a jinja2 template (rendered sandboxed and strict, like prompt templates). Its sha256
is part of every cache key and of the run's record, so a changed rubric never reuses an old verdict
and a reader can tell which instructions produced a result, as prompt fingerprints do for prompts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from jinja2 import Environment, meta

from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.prompts.template import render, syntax_problem

RubricKind = Literal["correctness", "preference"]
# The variables each rubric is rendered with; a template that uses none of the answers is refused.
VARIABLES: dict[str, tuple[str, ...]] = {
    "correctness": ("question", "gold", "answer"),
    "preference": ("question", "gold", "answer_a", "answer_b"),
}


@dataclass(frozen=True)
class Rubric:
    kind: RubricKind
    text: str
    source: str  # "packaged" or the override's path

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def file_name(self) -> str:
        return f"judge_{self.kind}_rubric.j2"

    def render(self, item_id: str, **variables: str) -> str:
        """The judge's prompt for one item; `item_id` names it in a template error."""
        missing = [name for name in VARIABLES[self.kind] if name not in variables]
        if missing:
            raise ValueError(f"{self.kind} rubric rendered without {', '.join(missing)}")
        return render(self.text, f"judge.{self.kind}_rubric", variables, item_id)

    def prompt(self, item_id: str, question: str, gold: str, answers: Sequence[str]) -> str:
        """The judge's prompt about `answers` to one item, each into this kind's answer variables
        in order: one answer to grade (correctness), or the two to compare as A and B (preference)."""
        names = [name for name in VARIABLES[self.kind] if name.startswith("answer")]
        if len(answers) != len(names):
            raise ValueError(f"a {self.kind} rubric shows {len(names)} answer(s), not {len(answers)}")
        return self.render(item_id, question=question, gold=gold, **dict(zip(names, answers)))


def load_rubric(kind: RubricKind, override: str | None = None) -> Rubric:
    """The packaged rubric of `kind`, or the user's template file `override`."""
    key = f"judge.{kind}_rubric"
    if override is None:
        text = resources.files("lorabench.judging").joinpath("rubrics", f"{kind}.j2").read_text(encoding="utf-8")
        return Rubric(kind, text, "packaged")
    path = Path(override).expanduser()
    if not path.is_file():
        raise LorabenchError.about(key, f"{path} is not a file; give a template file")
    text = path.read_text(encoding="utf-8")
    problem = syntax_problem(text)
    if problem:
        raise LorabenchError.about(key, f"{path}: {problem}")
    used = meta.find_undeclared_variables(Environment().parse(text))
    unknown = sorted(used - set(VARIABLES[kind]))
    if unknown:
        raise LorabenchError.about(key, f"{path} uses {', '.join(unknown)}; a {kind} rubric has {', '.join(VARIABLES[kind])}")
    answers = [name for name in VARIABLES[kind] if name.startswith("answer")]
    if not used & set(answers):
        raise LorabenchError.about(key, f"{path} never shows {' or '.join(answers)}; the judge would not see what it grades")
    return Rubric(kind, text, str(path))


def rubrics_for(settings: JudgeSettings, sides: Sequence[str]) -> dict[str, Rubric]:
    """The rubrics judging `sides` needs: correctness, and preference for two sides under judge.preference."""
    rubrics = {"correctness": load_rubric("correctness", settings.correctness_rubric)}
    if settings.preference and len(sides) == 2:
        rubrics["preference"] = load_rubric("preference", settings.preference_rubric)
    return rubrics
