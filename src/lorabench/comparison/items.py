"""Per-item differences between two evaluations and a category for every wrong answer.

A metric says how often a model is right; these say what changed and how it is wrong: a tuned
model that stops being verbose is a different finding from one that learned new facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lorabench.data.records import TaskKind
from lorabench.metrics.squad import answer_tokens, normalize_answer
from lorabench.core.kinds import ByKind, get_task

# The metric that decides right/wrong for an item, per task (each kind's module declares it).
PRIMARY_METRIC: ByKind[str] = ByKind("primary_metric")

# In the order they are tested: the first that applies names the error.
CATEGORIES: dict[str, str] = {
    "empty": "no answer at all",
    "cut": "stopped by max_new_tokens (answer possibly cut)",
    "format": "no number found / no option letter",
    "answered_unanswerable": "answered a question the context cannot answer",
    "other_question": "the answer to another question about the same context",
    "verbose": "gold answer inside a much longer answer",
    "partial": "some words of the gold answer, not all",
    "wrong": "wrong entity, number or option",
}

CHANGES = ("improved", "regressed", "still_wrong", "still_right")


def _is_correct(task: TaskKind, row: Mapping[str, Any]) -> bool:
    return float(row["scores"][PRIMARY_METRIC[task]]) >= 1.0


def _golds(row: Mapping[str, Any]) -> list[str]:
    return [g for g in row.get("gold") or [] if str(g).strip()]


def _contains(outer: list[str], inner: list[str]) -> bool:
    width = len(inner)
    return width > 0 and any(outer[i : i + width] == inner for i in range(len(outer) - width + 1))


def error_category(task: TaskKind | str, row: Mapping[str, Any], other_golds: Sequence[str] = ()) -> str | None:
    """The category of a wrong answer (a key of CATEGORIES), or None for a right one.

    `other_golds` are the gold answers of the other questions on the same context: an answer equal
    to one of them is a question mix-up (typical when several questions share a prompt), not a
    wrong entity."""
    task = TaskKind(task)
    if _is_correct(task, row):
        return None
    spec = get_task(task)
    prediction = str(row.get("prediction") or "")
    golds = _golds(row)
    if spec.unanswerable and not golds:
        return "answered_unanswerable"
    if not prediction.strip():
        return "empty"
    if row.get("hit_max_new_tokens"):
        return "cut"
    if spec.format_flag and float(row["scores"].get(spec.format_flag, 0.0)) >= 1.0:
        return "format"
    if not spec.text_answers:
        return "wrong"
    if normalize_answer(prediction) in {normalize_answer(g) for g in other_golds if g.strip()}:
        return "other_question"
    predicted = answer_tokens(prediction)
    gold_tokens = [answer_tokens(g) for g in golds]
    # "Much longer": at least twice the gold and two words more, so "the Bremora" vs "Bremora" is not verbose.
    if any(_contains(predicted, g) and len(predicted) >= max(2 * len(g), len(g) + 2) for g in gold_tokens):
        return "verbose"
    if any(set(predicted) & set(g) for g in gold_tokens) or any(
        normalize_answer(prediction) in normalize_answer(g) for g in golds
    ):
        return "partial"
    return "wrong"


Siblings = Mapping[str, Sequence[str]]  # item id -> gold answers of the other questions on its context


def sibling_golds(records: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For saved extractive records (id, context, answers): each id's other-question golds."""
    by_context: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        if record.get("context"):
            by_context.setdefault(str(record["context"]), []).append(record)
    return {
        str(record["id"]): [str(g) for other in group if other["id"] != record["id"] for g in other.get("answers") or []]
        for group in by_context.values() for record in group
    }


def category_counts(task: TaskKind | str, rows: Sequence[Mapping[str, Any]], siblings: Siblings | None = None) -> dict[str, int]:
    """How many wrong answers fall in each category (every category listed, zeros included)."""
    siblings = siblings or {}
    counts = Counter(error_category(task, row, siblings.get(row["id"], ())) for row in rows)
    return {name: counts.get(name, 0) for name in CATEGORIES}


@dataclass(frozen=True)
class ItemPair:
    """One test item as both models answered it."""

    id: str
    question: str
    gold: list[str]
    base: str
    tuned: str
    base_scores: dict[str, float]
    tuned_scores: dict[str, float]
    base_category: str | None
    tuned_category: str | None
    change: str  # one of CHANGES

    def to_row(self, metrics: Sequence[str]) -> dict[str, Any]:
        """A flat row for CSV files and tables."""
        row: dict[str, Any] = {
            "id": self.id, "change": self.change, "question": self.question, "gold": " | ".join(self.gold),
            "base": self.base, "tuned": self.tuned,
            "base_category": self.base_category or "", "tuned_category": self.tuned_category or "",
        }
        for metric in metrics:
            row[f"base_{metric}"] = self.base_scores.get(metric)
            row[f"tuned_{metric}"] = self.tuned_scores.get(metric)
        return row


def pair_items(
    task: TaskKind | str,
    base_rows: Sequence[Mapping[str, Any]],
    tuned_rows: Sequence[Mapping[str, Any]],
    questions: Mapping[str, str] | None = None,
    siblings: Siblings | None = None,
) -> list[ItemPair]:
    """Items in both evaluations, in the base's order, each labelled improved / regressed / still
    wrong / still right by the task's primary metric. `questions` maps ids to question text; without
    it the question is read from the row (rows written before it was stored show their prompt)."""
    task = TaskKind(task)
    siblings = siblings or {}
    tuned_by_id = {row["id"]: row for row in tuned_rows}
    pairs = []
    for base in base_rows:
        tuned = tuned_by_id.get(base["id"])
        if tuned is None:
            continue
        before, after = _is_correct(task, base), _is_correct(task, tuned)
        change = ("still_right" if after else "regressed") if before else ("improved" if after else "still_wrong")
        question = (questions or {}).get(base["id"]) or str(base.get("question") or base.get("prompt") or "")
        pairs.append(
            ItemPair(
                id=str(base["id"]), question=question, gold=[str(g) for g in base.get("gold") or []],
                base=str(base.get("prediction") or ""), tuned=str(tuned.get("prediction") or ""),
                base_scores=dict(base["scores"]), tuned_scores=dict(tuned["scores"]),
                base_category=error_category(task, base, siblings.get(base["id"], ())),
                tuned_category=error_category(task, tuned, siblings.get(base["id"], ())), change=change,
            )
        )
    return pairs


def change_counts(pairs: Sequence[ItemPair]) -> dict[str, int]:
    counts = Counter(pair.change for pair in pairs)
    return {name: counts.get(name, 0) for name in CHANGES}
