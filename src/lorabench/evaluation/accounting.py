"""What answering cost under each strategy, read back from prediction rows: each row's share of its
context's cost (rows.py writes it) and the per-strategy summary table.

Every cost is a total over one call (single), one context (batch) or one conversation (sequential);
a prediction row stores the per-question share, so means over rows compare strategies directly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from lorabench.runs.predictions import PredictionRow


ACCOUNTING_COLUMNS = (
    "strategy", "n", "EM", "F1", "Lenient", "Q/Ctx", "PromptTok", "GenTok", "PromptTok_API", "Latency", "ParseFail",
)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


class RowCost(NamedTuple):
    """One prediction row's share of what its context cost."""

    questions: int
    prompt: float
    generated: float
    api_prompt: float
    latency: float


def row_cost(row: PredictionRow) -> RowCost:
    # Rows written before strategies existed are single-question rows without the share fields.
    prompt = row.get("prompt_tokens_per_question", row.get("prompt_tokens", 0))
    return RowCost(
        int(row.get("questions_in_context", 1)),
        float(prompt),
        float(row.get("generated_tokens_per_question", row.get("generated_tokens", 0))),
        float(row.get("api_prompt_tokens", prompt)),
        float(row.get("latency_per_question_s", row.get("latency_s", 0.0))),
    )


def accounting_summary(rows: Iterable[PredictionRow]) -> dict[str, dict[str, float]]:
    """Per strategy: n rows, mean EM / F1 / Lenient, questions per context, and the mean per-question
    prompt tokens, generated tokens, API-billed prompt tokens and latency, plus the parse-failure share.

    Q/Ctx is questions / contexts (each row counts as 1/questions_in_context of a context), not the
    row mean of `questions_in_context`, which would weigh large contexts once per question.
    """
    by_strategy: dict[str, list[PredictionRow]] = {}
    for row in rows:
        by_strategy.setdefault(row.get("strategy", "single"), []).append(row)
    summary: dict[str, dict[str, float]] = {}
    for strategy, group in by_strategy.items():
        costs = [row_cost(row) for row in group]
        scores = [row.get("scores", {}) for row in group]
        summary[strategy] = {
            "n": len(group),
            "EM": _mean([s["exact_match"] for s in scores if "exact_match" in s]),
            "F1": _mean([s["f1"] for s in scores if "f1" in s]),
            "Lenient": _mean([s["lenient_match"] for s in scores if "lenient_match" in s]),
            "Q/Ctx": len(group) / sum(1 / max(1, c[0]) for c in costs),
            "PromptTok": _mean([c[1] for c in costs]),
            "GenTok": _mean([c[2] for c in costs]),
            "PromptTok_API": _mean([c[3] for c in costs]),
            "Latency": _mean([c[4] for c in costs]),
            "ParseFail": _mean([float(bool(row.get("parse_failure"))) for row in group]),
        }
    return summary


def accounting_table(summary: dict[str, dict[str, float]]) -> str:
    """`accounting_summary` as a Markdown table, one line per strategy."""
    lines = ["| " + " | ".join(ACCOUNTING_COLUMNS) + " |", "|" + "---|" * len(ACCOUNTING_COLUMNS)]
    for strategy, values in summary.items():
        cells = [strategy] + [
            str(int(values["n"])) if name == "n" else f"{values[name]:.4g}" for name in ACCOUNTING_COLUMNS[1:]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
