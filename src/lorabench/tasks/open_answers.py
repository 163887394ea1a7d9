"""Open instruction answers (Dolly / Alpaca style): an instruction, an optional context, a free-text response."""

from lorabench.data import synth
from lorabench.data.records import OpenRecord
from lorabench.metrics.scoring import score_open
from lorabench.tasks.registry import Task, TaskKind

TASK = Task(
    kind=TaskKind.open,
    description="open answers: an instruction (and context) with a free-text response",
    record_type=OpenRecord,
    field_aliases={  # Dolly (instruction/context/response) and Alpaca (instruction/input/output)
        "instruction": ("instruction", "prompt", "question"),
        "context": ("context", "input"),
        "response": ("response", "output", "answer", "completion"),
        "category": ("category",),
    },
    instruction="Follow the instruction.",
    cue="Response:",
    stop_strings=("\n\nInstruction:", "\nInstruction:", "\n\nContext:"),
    max_new_tokens=256,
    metrics=("exact_match", "relaxed_match", "lenient_match", "token_f1", "rouge_l", "rouge_l_acc"),
    primary_metric="rouge_l_acc",
    score=score_open,
    target=lambda record: record.response,
    synthesize=synth._open,
    error_categories=("empty", "cut", "verbose", "partial", "wrong"),
    short_subset=True,
)
