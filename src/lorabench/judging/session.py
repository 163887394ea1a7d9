"""Judging a set of items: every judge prompt built, the cached ones read, the rest asked (each
cached the moment it is answered), then verdicts, paired statistics and guards.

For each item the judge grades the gold answer and each side's answer (correctness), and with two
sides and judge.preference on, compares the two answers in both orders (preference). Identical
prompts are asked once: two sides giving the same answer cost one judgment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lorabench.core.notices import Say, log, warn
from lorabench.judging.backend import JudgeBackend
from lorabench.judging.cache import Completion, JudgmentCache, cache_key
from lorabench.judging.guards import exact_match_guard, gold_guard, position_guard, unparseable_guard
from lorabench.judging.items import JudgeItem, check_items
from lorabench.judging.parse import UNPARSEABLE, parse_grade, parse_preference, reason
from lorabench.judging.rubric import Rubric
from lorabench.judging.stats import compare_judged, summarize_preference
from lorabench.judging.verdicts import PairOutcome, correctness_scores, identical_pair, pair_outcome
from lorabench.results import GuardResult, MetricVerdict
from lorabench.results.judged import Check, JudgeCost, JudgeResult, Judgment, PreferenceSummary

GOLD = "gold"


@dataclass(frozen=True)
class _Ask:
    item: JudgeItem
    check: Check
    subject: str
    answers: list[str]
    key: str
    prompt: str


def _correctness_ask(item: JudgeItem, subject: str, answer: str, rubric: Rubric, judge: str) -> _Ask:
    key = cache_key(judge, rubric.sha256, item.question, item.gold, (answer,))
    prompt = rubric.render(item.id, question=item.question, gold=item.gold, answer=answer)
    return _Ask(item, "correctness", subject, [answer], key, prompt)


def _preference_ask(item: JudgeItem, first: str, second: str, rubric: Rubric, judge: str) -> _Ask:
    a, b = item.answers[first], item.answers[second]
    key = cache_key(judge, rubric.sha256, item.question, item.gold, (a, b))
    prompt = rubric.render(item.id, question=item.question, gold=item.gold, answer_a=a, answer_b=b)
    return _Ask(item, "preference", first, [a, b], key, prompt)


def _asks(items: Sequence[JudgeItem], sides: Sequence[str], rubrics: dict[str, Rubric], judge: str) -> list[_Ask]:
    asks = []
    for item in items:
        asks.append(_correctness_ask(item, GOLD, item.gold, rubrics["correctness"], judge))
        asks.extend(_correctness_ask(item, side, item.answers[side], rubrics["correctness"], judge) for side in sides)
        if "preference" in rubrics and len(sides) == 2 and item.answers[sides[0]] != item.answers[sides[1]]:
            asks.append(_preference_ask(item, sides[0], sides[1], rubrics["preference"], judge))
            asks.append(_preference_ask(item, sides[1], sides[0], rubrics["preference"], judge))
    return asks


def _complete(asks: Sequence[_Ask], backend: JudgeBackend, cache: JudgmentCache, say: Say) -> set[str]:
    """Ask the judge every prompt the cache lacks; returns the keys answered now."""
    todo = {ask.key: ask for ask in asks if ask.key not in cache}
    distinct = len({ask.key for ask in asks})
    if cache.skipped_lines:
        say(warn(f"judge cache {cache.path}: {cache.skipped_lines} damaged line(s) skipped (a killed run); redone"))
    say(f"judge: {distinct} judgment(s), {distinct - len(todo)} from the cache, {len(todo)} to make")
    for key, completion in backend.complete([(key, ask.prompt) for key, ask in todo.items()]):
        ask = todo[key]
        about = {"check": ask.check, "judge": backend.identity}
        cache.put(key, completion, about)
    return set(todo)


def _judgment(ask: _Ask, completion: Completion, fresh: bool) -> Judgment:
    parsed = parse_grade(completion.text) if ask.check == "correctness" else parse_preference(completion.text)
    return Judgment(
        id=ask.item.id, check=ask.check, subject=ask.subject, answers=ask.answers, verdict=parsed or UNPARSEABLE,
        reason=reason(completion.text), raw=completion.text, tokens_in=completion.tokens_in,
        tokens_out=completion.tokens_out, seconds=completion.seconds, cached=not fresh,
    )


def _cost(asks: Sequence[_Ask], cache: JudgmentCache, fresh: set[str]) -> JudgeCost:
    distinct = {ask.key for ask in asks}
    made = [cache.get(key) for key in distinct if key in fresh]
    return JudgeCost(
        judgments=len(distinct), fresh=len(made), tokens_in=sum(c.tokens_in for c in made if c),
        tokens_out=sum(c.tokens_out for c in made if c), seconds=round(sum(c.seconds for c in made if c), 3),
    )


def _rates(grades: Sequence[str]) -> dict[str, float]:
    n = len(grades)
    return {
        "judge_correct": sum(g == "correct" for g in grades) / n,
        "judge_attempted": sum(g in ("correct", "incorrect") for g in grades) / n,
        "unparseable": float(sum(g == UNPARSEABLE for g in grades)),
    }


def _preference(items: Sequence[JudgeItem], sides: Sequence[str], judgments: Sequence[Judgment], alpha: float) -> PreferenceSummary:
    verdicts = {(j.id, j.subject): j.verdict for j in judgments if j.check == "preference"}
    outcomes: list[PairOutcome] = []
    for item in items:
        if (item.id, sides[0]) not in verdicts:
            outcomes.append(identical_pair())
        else:
            outcomes.append(pair_outcome(verdicts[(item.id, sides[0])], verdicts[(item.id, sides[1])]))
    return summarize_preference(sides[0], sides[1], outcomes, alpha)


def judge_items(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    rubrics: dict[str, Rubric],
    backend: JudgeBackend,
    cache: JudgmentCache,
    alpha: float = 0.05,
    say: Say = log,
) -> JudgeResult:
    """Judge `items`' answers of `sides` (one side, or two: base then tuned); `rubrics` has
    "correctness" and, for preference, "preference"."""
    check_items(items, sides)
    asks = _asks(items, sides, rubrics, backend.identity)
    fresh = _complete(asks, backend, cache, say)
    judgments = [_judgment(ask, cache.get(ask.key), ask.key in fresh) for ask in asks]  # type: ignore[arg-type]
    grades = {(j.id, j.subject): j.verdict for j in judgments if j.check == "correctness"}
    subjects = [GOLD, *sides]
    rates = {s: _rates([grades[(item.id, s)] for item in items]) for s in subjects}
    comparisons = []
    if len(sides) == 2:
        scores = {s: [correctness_scores(grades[(item.id, s)]) for item in items] for s in sides}
        comparisons = compare_judged(scores[sides[0]], scores[sides[1]], alpha)
    preference = _preference(items, sides, judgments, alpha) if len(sides) == 2 and "preference" in rubrics else None
    exact = [grades[(item.id, s)] for item in items for s in sides if item.exact_match.get(s) == 1.0]
    findings = [
        gold_guard([grades[(item.id, GOLD)] for item in items]),
        position_guard(preference),
        exact_match_guard(exact),
        unparseable_guard([j.verdict for j in judgments]),
    ]
    return JudgeResult(
        judge=backend.describe(),
        rubrics={kind: {"sha256": r.sha256, "source": r.source, "file": r.file_name} for kind, r in rubrics.items()},
        sides=list(sides), n=len(items), rates=rates,
        comparisons=[MetricVerdict.model_validate(c.to_dict()) for c in comparisons], preference=preference,
        guards=[GuardResult.model_validate(f.to_dict()) for f in findings], cost=_cost(asks, cache, fresh),
        unparseable=sum(j.verdict == UNPARSEABLE for j in judgments), judgments=judgments,
    )
