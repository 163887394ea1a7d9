"""The report's judge section: the judged metrics, the preference, the judge's checks and each item
with both answers and the judge's grades and reasons. The sentences are the JudgeResult's own
(lorabench.results.judged), so the console, report.html and report.md say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lorabench.comparison.paired import comparison_from_dict
from lorabench.report.verdicts import VERDICT_CSS, verdict_sentence
from lorabench.results.judged import JUDGE_METRICS, JudgeResult


def judged_sentences(result: JudgeResult) -> list[str]:
    """One line per judged metric, as verdict_sentence writes the string metrics'."""
    prefix = "" if result.trustworthy else "(untrusted judge) "
    first, second = (result.sides + ["", ""])[:2]
    return [prefix + verdict_sentence(comparison_from_dict(c.model_dump()), before=first, after=second)
            for c in result.comparisons]


ITEMS_SHOWN = 200  # judged items in the report; judge/judgments.jsonl has every judgment


def _grade_text(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "-"
    return entry["grade"].replace("_", " ") + (f": {entry['reason']}" if entry.get("reason") else "")


def judge_view(result: JudgeResult, pairs: Sequence[Any]) -> dict[str, Any]:
    """The report's judge section: trust first, the judged metrics, preference, guards, cost, and
    each item with both answers, the judge's grades and reasons and the preference (`pairs`: the
    report's ItemPairs, for questions, golds and answers in the test order)."""
    first, second = result.sides[0], result.sides[-1]
    by_metric = {c.metric: c for c in result.comparisons}
    rows = []
    for metric in JUDGE_METRICS:
        c = by_metric.get(metric)
        rows.append({
            "metric": metric, "gold": f"{100 * result.rates['gold'][metric]:.1f}",
            "base": f"{100 * result.rates[first][metric]:.1f}", "tuned": f"{100 * result.rates[second][metric]:.1f}",
            "change": "-" if c is None else f"{100 * c.difference:+.1f} (+{c.improved}/-{c.regressed})",
            "p": "-" if c is None else f"{c.p_value:.2g}",
            "verdict": "-" if c is None else c.verdict + ("" if result.trustworthy else " (untrusted judge)"),
            "css": "ns" if c is None or not result.trustworthy else VERDICT_CSS.get(c.verdict, "ns"),
        })
    view = result.item_view()
    items = []
    for pair in pairs:
        entry = view.get(pair.id)
        if entry is None:
            continue
        preference = entry.get("preference", "-")
        items.append({
            "id": pair.id, "question": pair.question, "gold": " | ".join(pair.gold),
            "base": pair.base, "tuned": pair.tuned, "base_grade": _grade_text(entry.get(first)),
            "tuned_grade": _grade_text(entry.get(second)), "preference": preference if isinstance(preference, str) else "-",
        })
    return {
        "title": f"What the judge says ({result.judge.get('model')})",
        "trusted": result.trustworthy, "trust": result.trust_sentence(), "rows": rows,
        "verdicts": judged_sentences(result),
        "preference": result.preference.sentence() if result.preference else None,
        "guards": [g.model_dump() for g in result.guards if g.name != "judge_gold"],
        "cost": result.cost_sentence(),
        "rubrics": ", ".join(f"{kind} {r['sha256'][:12]} ({r['source']}, judge/{r['file']})" for kind, r in result.rubrics.items()),
        "item_rows": items[:ITEMS_SHOWN], "items_total": len(items),
    }
