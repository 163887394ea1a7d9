"""Multiple choice: a question (and context), options labelled A, B, C, ...; the answer is a label."""

from lorabench.data import synth
from lorabench.data.loaders import prepare_choice_fields
from lorabench.data.records import ChoiceRecord
from lorabench.metrics.scoring import score_choice
from lorabench.tasks.registry import Task, TaskKind

TASK = Task(
    kind=TaskKind.choice,
    description="multiple choice: options A, B, C, ... and the correct label",
    record_type=ChoiceRecord,
    field_aliases={
        "question": ("question", "stem", "prompt"),
        "options": ("options", "choices"),
        "answer": ("answer", "label", "answerKey", "ground_truth_correct_option", "correct_option"),
        "context": ("context", "passage"),
    },
    instruction="Answer with the letter of the correct option.",
    cue="Answer:",
    stop_strings=("\n",),
    max_new_tokens=8,
    metrics=("accuracy", "no_choice"),
    primary_metric="accuracy",
    score=score_choice,
    target=lambda record: record.answer,
    synthesize=synth._choice,
    error_categories=("empty", "cut", "format", "wrong"),
    prepare_fields=prepare_choice_fields,
    text_answers=False,
    format_flag="no_choice",
)
