"""Math word problems (GSM8K style): the answer is worked steps ending in `#### N` or `\\boxed{N}`."""

from lorabench.data import synth
from lorabench.data.records import MathRecord
from lorabench.metrics.scoring import score_math
from lorabench.tasks.registry import Task, TaskKind

TASK = Task(
    kind=TaskKind.math,
    description="math word problems: worked answer ending in '#### N' or '\\boxed{N}'",
    record_type=MathRecord,
    field_aliases={"question": ("question", "problem"), "answer": ("answer", "solution"), "final": ("final",)},
    instruction="Solve the problem step by step. End with a final line of the form '#### <number>'.",
    cue="Answer:",
    stop_strings=("\n\nQuestion:", "\nQuestion:"),
    max_new_tokens=320,
    metrics=("numeric_match", "no_number"),
    primary_metric="numeric_match",
    score=score_math,
    target=lambda record: record.answer,
    synthesize=synth._math,
    error_categories=("empty", "cut", "format", "wrong"),
    text_answers=False,
    format_flag="no_number",
    numeric_gold=True,
)
