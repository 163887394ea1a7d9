"""Two lm-eval runs compared paired, task by task and metric by metric, as lorabench compares its own.

Samples are matched by `doc_id`. The same `doc_id` with another `doc_hash` is another document,
and a task or a document present in one run only means the runs did not evaluate the same items:
both are refused unless the user compares anyway. A different `prompt_hash` (another prompt
format, few-shot set or chat template) is reported next to the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lorabench.comparison.paired import MetricComparison, compare_metric
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.comparison.lm_eval_files import DocId, LmEvalRun, TaskSamples


@dataclass
class PairedLmEvalRuns:
    """Two lm-eval runs as read, and their paired comparisons (b - a). lorabench.results'
    LmEvalComparison is what the API returns of it, paths and verdict sentences in place of the runs."""

    a: LmEvalRun
    b: LmEvalRun
    comparisons: list[MetricComparison]  # each named TASK/METRIC
    items: dict[str, int]  # task -> documents paired
    differences: list[str] = field(default_factory=list)  # what made the runs not comparable (compared anyway)
    notes: list[str] = field(default_factory=list)  # reported, not refused: other prompts, metrics without a test

    def to_dict(self) -> dict[str, Any]:
        """The `compare --json` payload: each `comparison` entry carries lorabench's own comparison fields."""
        return {
            "a": str(self.a.path), "b": str(self.b.path), "format": "lm-eval",
            "results": {"a": _text(self.a.results), "b": _text(self.b.results)},
            "tasks": self.items, "forced_despite": self.differences, "notes": self.notes,
            "comparison": [c.to_dict() for c in self.comparisons],
        }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _first(ids: set[DocId]) -> list[DocId]:
    return sorted(ids, key=str)[:2]


def differences(a: LmEvalRun, b: LmEvalRun) -> list[str]:
    """Every reason the two runs are not a clean paired comparison."""
    found = [f"task {task}: only in {a.path}" for task in a.tasks if task not in b.tasks]
    found += [f"task {task}: only in {b.path}" for task in b.tasks if task not in a.tasks]
    for task in (t for t in a.tasks if t in b.tasks):
        ta, tb = a.tasks[task], b.tasks[task]
        only_a, only_b = set(ta.doc_hash) - set(tb.doc_hash), set(tb.doc_hash) - set(ta.doc_hash)
        if only_a or only_b:
            found.append(f"task {task}: {len(only_a)} doc_ids only in {a.path} (e.g. {_first(only_a)}), "
                         f"{len(only_b)} only in {b.path} (e.g. {_first(only_b)})")
        other = {d for d in ta.doc_hash if d in tb.doc_hash and ta.doc_hash[d] != tb.doc_hash[d]}
        if other:
            found.append(f"task {task}: doc_hash differs on {len(other)} doc_ids (e.g. {_first(other)}), "
                         "so those are different documents")
    return found


def _prompt_note(ta: TaskSamples, tb: TaskSamples, common: list[DocId]) -> str | None:
    other = [d for d in common if ta.prompt_hash[d] != tb.prompt_hash[d]]
    if not other:
        return None
    return (f"task {ta.task}: prompt text differs on {len(other)} of {len(common)} documents (first doc_id {other[0]!r}): "
            "another prompt format, few-shot set or chat template; compared paired all the same")


def _task_comparisons(
    ta: TaskSamples, tb: TaskSamples, common: list[DocId], alpha: float, resamples: int, seed: int
) -> tuple[list[MetricComparison], list[str]]:
    comparisons, notes = [], []
    for label in [m for m in ta.scores if m not in tb.scores] + [m for m in tb.scores if m not in ta.scores]:
        notes.append(f"{ta.task}/{label}: logged in one run only; not compared")
    for label in (m for m in ta.scores if m in tb.scores):
        docs = [d for d in common if d in ta.scores[label] and d in tb.scores[label]]
        if len(docs) < len(common):
            notes.append(f"{ta.task}/{label}: scored on {len(docs)} of the {len(common)} paired documents only")
        if not docs:
            continue
        before, after = [ta.scores[label][d] for d in docs], [tb.scores[label][d] for d in docs]
        comparisons.append(compare_metric(
            f"{ta.task}/{label}", before, after, alpha, resamples, seed,
            # 0/1 per document (acc, exact_match) is a paired proportion, as lorabench's own are.
            binary=all(v in (0.0, 1.0) for v in before + after),
            lower_is_better=label in ta.lower_is_better,
        ))
    return comparisons, notes


def compare_lm_eval(
    a: LmEvalRun, b: LmEvalRun, anyway: bool = False, alpha: float = 0.05, resamples: int = 10_000, seed: int = 0
) -> PairedLmEvalRuns:
    """Paired comparison of b against a (b - a) on every task and per-sample metric both logged."""
    found = differences(a, b)
    if found and not anyway:
        raise LorabenchError(Message(
            "the lm-eval runs are not a paired comparison: ", Message("; ").join(found),
            ". Rerun both on the same tasks and documents, or pass ", Hint("anyway"),
            " to compare the common ones regardless",
        ))
    comparisons: list[MetricComparison] = []
    items: dict[str, int] = {}
    notes = list(dict.fromkeys(a.notes + b.notes))
    for task in (t for t in a.tasks if t in b.tasks):
        ta, tb = a.tasks[task], b.tasks[task]
        common = [d for d in ta.doc_hash if d in tb.doc_hash]
        notes += list(dict.fromkeys(ta.skipped + tb.skipped))
        if not common:
            notes.append(f"task {task}: no doc_id in both runs; not compared")
            continue
        prompt_note = _prompt_note(ta, tb, common)
        notes += [prompt_note] if prompt_note else []
        task_comparisons, task_notes = _task_comparisons(ta, tb, common, alpha, resamples, seed)
        comparisons += task_comparisons
        notes += task_notes
        items[task] = len(common)
    if not comparisons:
        raise LorabenchError(f"{a.path} and {b.path} share no task with a per-sample metric; there is nothing to compare")
    return PairedLmEvalRuns(a, b, comparisons, items, found, notes)
