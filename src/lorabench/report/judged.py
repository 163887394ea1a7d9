"""What a judge concluded, in plain sentences: the console, report.html and report.md say the same.

The judge's verdict is stated only as far as its checks allow: a judge that fails the gold check
is named NOT trustworthy first, and its verdicts follow as such.
"""

from __future__ import annotations

from lorabench.judging.result import JudgeResult
from lorabench.judging.stats import PreferenceSummary
from lorabench.report.verdicts import verdict_sentence


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
