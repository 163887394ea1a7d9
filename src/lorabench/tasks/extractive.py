"""Extractive QA (SQuAD style): a context, a question, answer spans copied from the context.
Unanswerable questions (SQuAD v2) have no answers; the model says "unanswerable"."""

from lorabench.data import synth
from lorabench.data.loaders import prepare_extractive_fields
from lorabench.data.records import ExtractiveRecord
from lorabench.metrics.scoring import score_extractive
from lorabench.prompts import NO_ANSWER, no_answer_to_empty
from lorabench.tasks.registry import Task, TaskKind

TASK = Task(
    kind=TaskKind.extractive,
    description="extractive QA: answer spans from a context (SQuAD v1.1/v2.0)",
    record_type=ExtractiveRecord,
    field_aliases={
        "context": ("context", "passage", "paragraph"),
        "question": ("question", "query"),
        "answers": ("answers", "answer", "answer_text"),
        "title": ("title",),
        "unanswerable": ("unanswerable", "is_impossible"),
    },
    instruction="Answer the question with a short span copied from the context.",
    cue="Answer:",
    stop_strings=("\n",),
    max_new_tokens=32,
    metrics=("exact_match", "f1", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc"),
    primary_metric="exact_match",
    score=score_extractive,
    target=lambda record: record.answers[0] if record.answers else NO_ANSWER,
    synthesize=synth._extractive,
    error_categories=("answered_unanswerable", "empty", "cut", "other_question", "verbose", "partial", "wrong"),
    clean_answer=no_answer_to_empty,
    prepare_fields=prepare_extractive_fields,
    short_subset=True,
    unanswerable=True,
    passage_lengths=True,
)
