"""Judging a set of items with an opened judge: every judge prompt built, the cached ones read, the
rest asked (each cached the moment it is answered), then verdicts, paired statistics and guards,
and (`judge_with`) the record of it written.

For each item the judge grades the gold answer and each side's answer (correctness), and with two
sides and judge.preference on, compares the two answers in both orders (preference). Identical
prompts are asked once: two sides giving the same answer cost one judgment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.core.notices import Say, log
from lorabench.judging.backend import JudgeBackend
from lorabench.judging.cache import JudgmentCache, cache_key
from lorabench.judging.guards import exact_match_guard, gold_guard, position_guard, unparseable_guard
from lorabench.judging.items import JudgeItem
from lorabench.judging.parse import UNPARSEABLE, read_judgment
from lorabench.judging.records import write_judging
from lorabench.judging.rubric import Rubric
from lorabench.judging.stats import compare_judged, summarize_preference
from lorabench.judging.verdicts import correctness_scores, judged_rates, preference_outcomes
from lorabench.results import GuardResult, MetricVerdict
from lorabench.results.judged import Check, JudgeResult

GOLD = "gold"


@dataclass(frozen=True)
class JudgeSetup:
    """A judge as `answers.check_judge` found it, for the judging to use rather than read and open
    again: its settings, the file its judgments are cached in, its rubrics and its backend (a local
    model is only loaded once a prompt needs it)."""

    settings: JudgeSettings
    cache_file: Path
    rubrics: dict[str, Rubric]
    backend: JudgeBackend


@dataclass(frozen=True)
class _Ask:
    item: JudgeItem
    check: Check
    subject: str
    answers: list[str]
    key: str
    prompt: str


def check_items(items: Sequence[JudgeItem], sides: Sequence[str]) -> None:
    """Refuse what cannot be judged: no items, duplicate ids, an item without every side's answer."""
    if not items:
        raise LorabenchError("nothing to judge: no items")
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise LorabenchError(f"item {item.id} appears twice; judged items need distinct ids")
        seen.add(item.id)
        missing = [side for side in sides if side not in item.answers]
        if missing:
            raise LorabenchError(f"item {item.id} has no answer of {', '.join(missing)}")
        if not item.gold:
            raise LorabenchError(f"item {item.id} has no gold answer; the judge grades against the gold")


def _ask(item: JudgeItem, check: Check, subject: str, answers: list[str], rubric: Rubric, judge: str) -> _Ask:
    """One prompt to the judge: `answers` (one to grade, or two to compare, `subject` shown first)."""
    key = cache_key(judge, rubric.sha256, item.question, item.gold, tuple(answers))
    return _Ask(item, check, subject, answers, key, rubric.prompt(item.id, item.question, item.gold, answers))


def _asks(items: Sequence[JudgeItem], sides: Sequence[str], rubrics: dict[str, Rubric], judge: str) -> list[_Ask]:
    asks = []
    for item in items:
        graded = [(GOLD, item.gold), *((side, item.answers[side]) for side in sides)]
        wanted: list[tuple[Check, str, list[str]]] = [("correctness", subject, [answer]) for subject, answer in graded]
        if "preference" in rubrics and len(sides) == 2 and item.answers[sides[0]] != item.answers[sides[1]]:
            wanted += [("preference", first, [item.answers[first], item.answers[second]])
                       for first, second in (sides, sides[::-1])]
        asks += [_ask(item, check, subject, answers, rubrics[check], judge) for check, subject, answers in wanted]
    return asks


def judge_items(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    rubrics: dict[str, Rubric],
    backend: JudgeBackend,
    cache_file: Path,
    alpha: float = 0.05,
    say: Say = log,
) -> JudgeResult:
    """Judge `items`' answers of `sides` (one side, or two: base then tuned); `rubrics` has
    "correctness" and, for preference, "preference". The judgments of `cache_file` are reused and
    each new one is added to it as it comes."""
    check_items(items, sides)
    asks = _asks(items, sides, rubrics, backend.identity)
    cache = JudgmentCache(cache_file)
    fresh = cache.fill(
        [(ask.key, ask.prompt, {"check": ask.check, "judge": backend.identity}) for ask in asks], backend.complete, say
    )
    cost = cache.cost([ask.key for ask in asks], fresh)
    judgments = [
        read_judgment(cache.get(ask.key), ask.check, ask.item.id, ask.subject, ask.answers, cached=ask.key not in fresh)  # type: ignore[arg-type]
        for ask in asks
    ]
    # What the judgments show: rates and per-item outcomes first, then their paired statistics.
    grades = {(j.id, j.subject): j.verdict for j in judgments if j.check == "correctness"}
    subjects = [GOLD, *sides]
    rates = {s: judged_rates([grades[(item.id, s)] for item in items]) for s in subjects}
    scores = {s: [correctness_scores(grades[(item.id, s)]) for item in items] for s in sides}
    preference = None
    if len(sides) == 2 and "preference" in rubrics:
        outcomes = preference_outcomes([item.id for item in items], sides[0], sides[1], judgments)
        preference = summarize_preference(sides[0], sides[1], outcomes, alpha)
    comparisons = compare_judged(scores[sides[0]], scores[sides[1]], alpha) if len(sides) == 2 else []
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
        guards=[GuardResult.model_validate(f.to_dict()) for f in findings], cost=cost,
        unparseable=sum(j.verdict == UNPARSEABLE for j in judgments), judgments=judgments,
    )


def judge_with(
    items: Sequence[JudgeItem],
    sides: Sequence[str],
    setup: JudgeSetup,
    out: Path | None = None,
    alpha: float = 0.05,
    say: Say = log,
) -> JudgeResult:
    """`judge_items` with a judge as checked and opened (a run checks its judge before any work,
    see `answers.check_judge`) and, with `out`, judgments.jsonl, judge.json and the rubrics left there."""
    result = judge_items(items, sides, setup.rubrics, setup.backend, setup.cache_file, alpha, say)
    if out is not None:
        write_judging(Path(out), result, setup.rubrics.values())
    return result
