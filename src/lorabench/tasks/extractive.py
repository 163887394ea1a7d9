"""Extractive QA (SQuAD style): a context, a question, answer spans copied from the context.
Unanswerable questions (SQuAD v2) have no answers; the model says "unanswerable"."""

import random

from lorabench.data import synth
from lorabench.data.loaders import prepare_extractive_fields
from lorabench.data.records import ExtractiveRecord
from lorabench.metrics.scoring import ScoreInput, ScoreSettings, text_scores
from lorabench.metrics.squad import exact_match, f1_score
from lorabench.prompts.build import NO_ANSWER, no_answer_to_empty
from lorabench.core.kinds import Task, TaskKind


def score(item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
    """Official SQuAD EM and F1 on the raw text, the looser text metrics on the normalized text."""
    # The official metrics get the raw text: they normalize it themselves, as the SQuAD script does.
    pred, golds = item.prediction, item.golds
    return {"exact_match": exact_match(pred, golds), "f1": f1_score(pred, golds), **text_scores(pred, golds, settings)}


def synthesize(rng: random.Random, n: int, tag: str, short_passages: bool = False) -> list[ExtractiveRecord]:
    """Passages about the fictional world with 3-8 questions each, every answer an unambiguous span."""
    records: list[ExtractiveRecord] = []
    index = 0
    sentences, words = synth.PASSAGE_SHAPE[short_passages]
    while len(records) < n:
        passage = synth.passage(rng, sentences, words)
        k = min(rng.randint(3, min(8, len(passage.facts))), n - len(records))
        for q, (key, question) in enumerate(rng.sample(passage.facts, k)):
            records.append(ExtractiveRecord(
                id=f"synth-{tag}-ex-{index:05d}-q{q}", context=passage.text, question=question,
                answers=[passage.cast[key]], title=passage.cast["P"],
            ))
        index += 1
    return records


TASK = Task(
    kind=TaskKind.extractive,
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
    score=score,
    target=lambda record: record.answers[0] if record.answers else NO_ANSWER,
    synthesize=synthesize,
    error_categories=("answered_unanswerable", "empty", "cut", "other_question", "verbose", "partial", "wrong"),
    clean_answer=no_answer_to_empty,
    prepare_fields=prepare_extractive_fields,
    short_subset=True,
    unanswerable=True,
    passage_lengths=True,
)
