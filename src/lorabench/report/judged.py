"""What a judge concluded, in plain sentences: the console, report.html and report.md say the same.

The judge's verdict is stated only as far as its checks allow: a judge that fails the gold check
is named NOT trustworthy first, and its verdicts follow as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lorabench.judging.result import JudgeResult
from lorabench.judging.stats import PreferenceSummary
from lorabench.report.verdicts import VERDICT_CSS, verdict_sentence


def judge_name(result: JudgeResult) -> str:
    judge = result.judge
    where = f"at {judge['endpoint']}" if judge.get("kind") == "endpoint" else f"{judge.get('backend', 'hf')} backend"
    return f"{judge.get('model')} ({where}, greedy, max {judge.get('max_new_tokens')} new tokens)"


def trust_sentence(result: JudgeResult) -> str:
    gold = next(g for g in result.guards if g.name == "judge_gold")
    if result.trustworthy:
        return f"judge {judge_name(result)}: passed its gold check ({gold.message})"
    return f"judge {judge_name(result)}: NOT TRUSTWORTHY on this data; {gold.message.split(': ', 1)[-1]}"


def judged_sentences(result: JudgeResult) -> list[str]:
    """One line per judged metric, as verdict_sentence writes the string metrics'."""
    prefix = "" if result.trustworthy else "(untrusted judge) "
    first, second = (result.sides + ["", ""])[:2]
    return [prefix + verdict_sentence(c, before=first, after=second) for c in result.comparisons]


def preference_sentence(preference: PreferenceSummary) -> str:
    bias = preference.position_bias_rate
    position = "no pair parsed in both orders" if bias is None else (
        f"position bias {100 * bias:.0f}% ({preference.followed_position} of {preference.both_parsed} pairs "
        "picked the same position in both orders)"
    )
    identical = f", {preference.identical} with identical answers" if preference.identical else ""
    return (
        f"preference, {preference.second} vs {preference.first} (a win needs both orders to agree): "
        f"{preference.wins} wins, {preference.losses} losses, {preference.ties} ties{identical}; "
        f"exact sign test p = {preference.p_value:.2g}: {preference.verdict}; {position}"
    )


def cost_sentence(result: JudgeResult) -> str:
    cost = result.cost
    return (
        f"{cost.judgments} distinct judge prompts ({cost.cached} from the cache, {cost.fresh} asked: {cost.tokens_in} tokens in, "
        f"{cost.tokens_out} out, {cost.seconds:.0f} s of judge time); {result.unparseable} unparseable, kept"
    )


def rates_sentence(result: JudgeResult) -> str:
    return "; ".join(
        f"{side}: {100 * rates['judge_correct']:.1f}% correct, {100 * rates['judge_attempted']:.1f}% attempted"
        for side, rates in result.rates.items()
    )


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
    for metric in ("judge_correct", "judge_attempted"):
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
        "trusted": result.trustworthy, "trust": trust_sentence(result), "rows": rows,
        "verdicts": judged_sentences(result),
        "preference": preference_sentence(result.preference) if result.preference else None,
        "guards": [g.to_dict() for g in result.guards if g.name != "judge_gold"],
        "cost": cost_sentence(result),
        "rubrics": ", ".join(f"{kind} {r['sha256'][:12]} ({r['source']}, judge/{r['file']})" for kind, r in result.rubrics.items()),
        "item_rows": items[:ITEMS_SHOWN], "items_total": len(items),
    }
