"""Math word problems (GSM8K style): the answer is worked steps ending in `#### N` or `\\boxed{N}`."""

import random
from typing import Any, ClassVar

from pydantic import field_validator, model_validator

from lorabench.data import synth
from lorabench.data.records import BaseRecord, require_text
from lorabench.metrics.numeric import extract_final_number, numbers_match
from lorabench.metrics.scoring import ScoreInput, ScoreSettings
from lorabench.core.kinds import Task, TaskKind



class MathRecord(BaseRecord):
    """GSM8K-style word problem; `final` is parsed from `answer` (`#### N` or `\\boxed{N}`)."""

    task: ClassVar[TaskKind] = TaskKind("math")
    question: str
    answer: str
    final: float

    @field_validator("question", "answer")
    @classmethod
    def _text(cls, value: str, info: Any) -> str:
        return require_text(value, info.field_name)

    @model_validator(mode="before")
    @classmethod
    def _parse_final(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("final") is None and isinstance(data.get("answer"), str):
            number = extract_final_number(data["answer"], marked_only=True)
            if number is None:
                raise ValueError("answer: no final number found (expected '#### N' or '\\boxed{N}')")
            data = {**data, "final": number}
        return data

    @property
    def question_text(self) -> str:
        return self.question

    @property
    def golds(self) -> list[str]:
        return [self.answer]


def _problem(rng: random.Random) -> tuple[str, list[str], int]:
    """(question, one solution line per step, result) for one of five 2-3 step problem shapes."""
    namer = synth.Namer(rng)
    p, q = namer.person().split()[0], namer.person().split()[0]
    while q == p:
        q = namer.person().split()[0]
    town = namer.place()
    item = rng.choice(synth.ITEMS)
    shape = rng.randrange(5)
    if shape == 0:
        a, d = rng.randint(3, 25), rng.randint(2, 9)
        g = rng.randint(1, a * d - 1)
        return (f"{p} gathers {a} {item} each day for {d} days near {town}, then gives {g} of them to {q}. "
                f"How many {item} does {p} have left?",
                [f"{p} gathers {a} * {d} = {a * d} {item}.", f"After giving some away, {p} has {a * d} - {g} = {a * d - g}."],
                a * d - g)
    if shape == 1:
        k, share = rng.randint(2, 8), rng.randint(2, 15)
        b = rng.randint(1, k * share - 1)
        a = k * share - b
        return (f"{p} has {a} {item} and buys {b} more at the {town} market. {p} then shares them equally "
                f"among {k} friends. How many {item} does each friend get?",
                [f"{p} has {a} + {b} = {a + b} {item}.", f"Each friend gets {a + b} / {k} = {share}."],
                share)
    if shape == 2:
        c, m = rng.randint(6, 24), rng.randint(3, 12)
        r = rng.randint(1, m - 1)
        return (f"A crate holds {c} {item}. {p} orders {m} crates for {town}, and {q} orders {r} fewer crates "
                f"than {p}. How many {item} did they order together?",
                [f"{p} orders {m} * {c} = {m * c} {item}.", f"{q} orders {m - r} * {c} = {(m - r) * c} {item}.",
                 f"Together they order {m * c} + {(m - r) * c} = {m * c + (m - r) * c}."],
                m * c + (m - r) * c)
    if shape == 3:
        price, a, b = rng.randint(2, 9), rng.randint(4, 30), rng.randint(4, 30)
        s = rng.randint(1, (a + b) * price - 1)
        return (f"{p} sells {item} in {town} for {price} marks each. {p} sells {a} on Monday and {b} on Tuesday, "
                f"then spends {s} marks on a new cart wheel. How many marks does {p} have left?",
                [f"{p} sells {a} + {b} = {a + b} {item}.", f"That earns {a + b} * {price} = {(a + b) * price} marks.",
                 f"After the wheel, {p} has {(a + b) * price} - {s} = {(a + b) * price - s} marks."],
                (a + b) * price - s)
    d, per, extra, days = rng.randint(2, 8), rng.randint(3, 15), rng.randint(1, 6), rng.randint(2, 7)
    return (f"{p} walks {d * per} leagues to {town} over {d} days, the same distance each day. {q} walks "
            f"{extra} leagues more per day than {p}. How many leagues does {q} walk in {days} days?",
            [f"{p} walks {d * per} / {d} = {per} leagues a day.", f"{q} walks {per} + {extra} = {per + extra} leagues a day.",
             f"In {days} days {q} walks {per + extra} * {days} = {(per + extra) * days} leagues."],
            (per + extra) * days)


def _gold_number(golds: list[str]) -> float:
    for gold in golds:
        number = extract_final_number(gold)
        if number is not None:
            return number
    raise ValueError(f"gold {golds!r} contains no number")


class MathTask(Task):
    record_type = MathRecord
    field_aliases = {"question": ("question", "problem"), "answer": ("answer", "solution"), "final": ("final",)}
    instruction = "Solve the problem step by step. End with a final line of the form '#### <number>'."
    stop_strings = ("\n\nQuestion:", "\nQuestion:")
    max_new_tokens = 320
    metrics = ("numeric_match", "no_number")
    primary_metric = "numeric_match"
    error_categories = ("empty", "cut", "format", "wrong")
    text_answers = False
    format_flag = "no_number"
    numeric_gold = True
    formats = ("gsm8k",)

    def target(self, record: MathRecord) -> str:
        return record.answer

    def score(self, item: ScoreInput, settings: ScoreSettings) -> dict[str, float]:
        gold_number = _gold_number(item.golds)
        predicted_number = extract_final_number(item.prediction)
        return {
            "numeric_match": float(
                numbers_match(predicted_number, gold_number, settings.numeric_rel_tol, settings.numeric_abs_tol)
            ),
            "no_number": float(predicted_number is None),
        }

    def synthesize(self, rng: random.Random, n: int, tag: str) -> list[MathRecord]:
        """Two- and three-step word problems with worked answers ending in `#### N`."""
        records: list[MathRecord] = []
        for i in range(n):
            question, steps, result = _problem(rng)
            record = MathRecord(
                id=f"synth-{tag}-math-{i:05d}", question=question, answer="\n".join([*steps, f"#### {result}"])
            )
            if record.final != result:  # the parser and the generator must agree, or the gold is wrong
                raise RuntimeError(f"synth: math answer parsed as {record.final}, expected {result}")
            records.append(record)
        return records
