"""Multiple choice: a question (and context), options labelled A, B, C, ...; the answer is a label."""

import random

from lorabench.data import synth
from lorabench.data.loaders import prepare_choice_fields
from lorabench.data.records import ChoiceRecord, option_labels
from lorabench.metrics.choice import parse_choice
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.core.kinds import Task, TaskKind


def _distractors(rng: random.Random, key: str, cast: dict[str, str], question: str) -> list[str]:
    """Three wrong options of the same type as the answer, none equal to it or named in the question."""
    answer, kind = cast[key], synth.KIND_OF_KEY[key]
    namer = synth.Namer(rng)
    namer.used = list(cast.values())
    if kind == "year":
        pool = [str(int(answer) + d) for d in rng.sample([*range(-12, 0), *range(1, 13)], 8)]
    elif kind == "number":
        value = int(answer)
        spread = max(3, value // 2)
        near = range(max(1, value - spread), value + spread + 1)
        pool = [str(v) for v in rng.sample(near, min(8, len(near)))]
    elif kind in ("thing", "profession"):
        pool = rng.sample(synth.THINGS if kind == "thing" else synth.PROFESSIONS, 5)
    else:
        same = [cast[k] for k, v in synth.KIND_OF_KEY.items() if v == kind]
        fresh = {"person": namer.person, "place": namer.place, "river": namer.river, "org": namer.org}[kind]
        pool = rng.sample(same, len(same)) + [fresh() for _ in range(3)]
    options: list[str] = []
    for candidate in pool:
        if candidate != answer and candidate not in options and candidate not in question:
            options.append(candidate)
    if len(options) < 3:
        raise RuntimeError(f"synth: too few distractors for {kind} {answer!r}")
    return options[:3]


def _gold_label(golds: list[str], labels: list[str], options: list[str] | None) -> str:
    gold = golds[0].strip()
    if gold.upper() in labels:
        return gold.upper()
    label = parse_choice(gold, labels, options)
    if label is None:
        raise ValueError(f"gold {gold!r} is neither an option label ({''.join(labels)}) nor an option's text")
    return label


def score(item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
    labels = option_labels(len(item.options)) if item.options else [chr(ord("A") + i) for i in range(26)]
    gold = _gold_label(item.golds, labels, item.options)
    predicted = parse_choice(item.prediction, labels, item.options)
    return {"accuracy": float(predicted == gold), "no_choice": float(predicted is None)}


def synthesize(rng: random.Random, n: int, tag: str) -> list[ChoiceRecord]:
    """A passage, a question on it, its answer among three distractors of the same type, at a uniform position."""
    records: list[ChoiceRecord] = []
    for i in range(n):
        passage = synth.passage(rng, (3, 4), words=(50, 120))
        key, question = rng.choice(passage.facts)
        options = _distractors(rng, key, passage.cast, question)
        position = rng.randrange(4)  # uniform over A-D, so a position bias cannot score above chance
        options.insert(position, passage.cast[key])
        records.append(ChoiceRecord(
            id=f"synth-{tag}-ch-{i:05d}", question=question, options=options,
            answer=option_labels(4)[position], context=passage.text,
        ))
    return records


TASK = Task(
    kind=TaskKind.choice,
    record_type=ChoiceRecord,
    field_aliases={
        "question": ("question", "stem", "prompt"),
        "options": ("options", "choices"),
        "answer": ("answer", "label", "answerKey", "ground_truth_correct_option", "correct_option"),
        "context": ("context", "passage"),
    },
    instruction="Answer with the letter of the correct option.",
    text_instruction="Answer with the text of the correct option.",
    cue="Answer:",
    stop_strings=("\n",),
    max_new_tokens=8,
    metrics=("accuracy", "no_choice"),
    primary_metric="accuracy",
    score=score,
    target=lambda record: record.answer,
    synthesize=synthesize,
    error_categories=("empty", "cut", "format", "wrong"),
    prepare_fields=prepare_choice_fields,
    text_answers=False,
    format_flag="no_choice",
)
