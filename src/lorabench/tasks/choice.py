"""Multiple choice: a question (and context), options labelled A, B, C, ...; the answer is a label."""

import random
import string
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from lorabench.data import synth
from lorabench.data.loaders import prepare_choice_fields
from lorabench.data.records import BaseRecord, context_group, option_labels, require_text
from lorabench.metrics.choice import parse_choice
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.core.kinds import ScoringStrategy, Task, TaskKind



class ChoiceRecord(BaseRecord):
    """Multiple choice: ordered options labelled A, B, C, ...; `answer` is the correct label."""

    task: ClassVar[TaskKind] = TaskKind("choice")
    question: str
    options: list[str]
    answer: str
    context: str = ""

    @field_validator("question")
    @classmethod
    def _text(cls, value: str, info: Any) -> str:
        return require_text(value, info.field_name)

    @field_validator("options")
    @classmethod
    def _options(cls, value: list[str]) -> list[str]:
        if len(value) < 2:
            raise ValueError("options: at least two options are required")
        option_labels(len(value))
        for label, text in zip(string.ascii_uppercase, value):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"options: option {label} is empty")
        return value

    @field_validator("answer", mode="before")
    @classmethod
    def _answer_label(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _answer_in_options(self) -> "ChoiceRecord":
        labels = self.labels
        if self.answer not in labels:
            raise ValueError(f"answer: label {self.answer!r} is not one of the options {''.join(labels)}")
        return self

    @property
    def labels(self) -> list[str]:
        return option_labels(len(self.options))

    @property
    def answer_text(self) -> str:
        return self.options[self.labels.index(self.answer)]

    @property
    def group_id(self) -> str:
        return context_group(self.context) if self.context.strip() else super().group_id

    @property
    def question_text(self) -> str:
        return self.question

    @property
    def context_text(self) -> str:
        return self.context

    @property
    def golds(self) -> list[str]:
        return [self.answer]


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


class ChoiceTask(Task):
    record_type = ChoiceRecord
    field_aliases = {
        "question": ("question", "stem", "prompt"),
        "options": ("options", "choices"),
        "answer": ("answer", "label", "answerKey", "ground_truth_correct_option", "correct_option"),
        "context": ("context", "passage"),
    }
    instruction = "Answer with the letter of the correct option."
    text_instruction = "Answer with the text of the correct option."
    max_new_tokens = 8
    metrics = ("accuracy", "no_choice")
    primary_metric = "accuracy"
    error_categories = ("empty", "cut", "format", "wrong")
    text_answers = False
    format_flag = "no_choice"
    formats = ("qa_folder",)

    def prepare_fields(self, data: dict[str, Any], where: str) -> dict[str, Any]:
        return prepare_choice_fields(data, where)

    def options(self, record: ChoiceRecord) -> list[str]:
        return list(record.options)

    def instruction_for(self, choice_answer: str) -> str:
        # Trained to write the option's text, so asked for it (not for its letter).
        return self.text_instruction if choice_answer == "text" else self.instruction

    def task_text(self, record: ChoiceRecord, instruction: str, context: str) -> str:
        options = "\n".join(f"{label}. {text}" for label, text in zip(record.labels, record.options))
        return f"{super().task_text(record, instruction, context)}\n{options}"

    def target(self, record: ChoiceRecord) -> str:
        return record.answer

    def target_for(self, record: ChoiceRecord, choice_answer: str) -> str:
        # Trained on exactly the text log-probability scoring reads (inference.base.option_continuations).
        return record.answer_text.strip() if choice_answer == "text" else record.answer

    def template_variables(self, record: ChoiceRecord) -> dict[str, Any]:
        return {"answer_text": record.answer_text}

    def scoring_strategy(self, choice_mode: str) -> ScoringStrategy:
        return choice_mode  # type: ignore[return-value]

    def follow_scoring(self, choice_answer: str, choice_mode: str) -> str:
        # Log-probability scoring compares option texts; the other modes read a label.
        return "text" if choice_mode == "logprob" else "label"

    def scoring_conflict(self, settings: Any, choice_mode: str) -> str | None:
        if choice_mode == "generate" or settings.target_template is None:
            return None
        return (
            f"choice_mode '{choice_mode}' scores the option right after the prompt, but prompt.target_template "
            "trains the model to write other text first; use choice_mode: generate, or move fixed text into "
            "prompt.answer_prefix"
        )

    def answer_conflict(self, settings: Any, choice_mode: str) -> str | None:
        wanted = self.follow_scoring(settings.choice_answer, choice_mode)
        if "choice_answer" not in settings.model_fields_set or settings.choice_answer == wanted:
            return None
        return (
            f"prompt.choice_answer '{settings.choice_answer}' but decoding.choice_mode '{choice_mode}' scores the "
            f"option's {wanted}; leave choice_answer out (it follows choice_mode)"
        )

    def shown_decoding(self, settings: dict[str, Any]) -> dict[str, Any]:
        # choice_mode always; the normalization only for log-prob scoring; generation settings only
        # when answers were generated.
        mode = settings.get("choice_mode")
        if mode == "generate":
            drop = {"choice_normalization"}
        else:
            drop = {"max_new_tokens", "batch_size"} | ({"choice_normalization"} if mode == "letter" else set())
        return {k: v for k, v in settings.items() if k not in drop}

    def score(self, item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
        labels = option_labels(len(item.options)) if item.options else [chr(ord("A") + i) for i in range(26)]
        gold = _gold_label(item.golds, labels, item.options)
        predicted = parse_choice(item.prediction, labels, item.options)
        return {"accuracy": float(predicted == gold), "no_choice": float(predicted is None)}

    def synthesize(self, rng: random.Random, n: int, tag: str) -> list[ChoiceRecord]:
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
