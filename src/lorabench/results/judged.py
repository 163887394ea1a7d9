"""What a judge concluded (`lorabench.judge`, `lorabench judge`, a run's judge/ folder and summary.json's
`judge` block), typed and torch-free: `Judgment` (one line of judgments.jsonl), `PreferenceSummary`,
`JudgeCost` and `JudgeResult`, with the sentences the console and the report say about them.

The judge's verdict is worded only as far as its checks allow: a judge that fails the gold check
is named NOT trustworthy first. `JudgeResult.read` reads a judged folder back without the judge.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lorabench.core.errors import LorabenchError
from lorabench.results.html import guards_html, verdict_table_html
from lorabench.results.scores import GuardResult, MetricScores, MetricVerdict

JUDGMENTS = "judgments.jsonl"
JUDGE_RESULT = "judge.json"
JUDGE_METRICS = ("judge_correct", "judge_attempted")

Check = Literal["correctness", "preference"]
Side = Literal["first", "second", "tie"]


def chosen_side(verdict: str, first_shown_as_a: bool) -> Side:
    """The side one order's verdict picks (A is whichever side was shown first); "tie" for a tie or
    an unreadable verdict."""
    if verdict == "A":
        return "first" if first_shown_as_a else "second"
    if verdict == "B":
        return "second" if first_shown_as_a else "first"
    return "tie"


def preferred_side(first_order: str, second_order: str) -> Side:
    """A pair's outcome from the verdict with `first` shown as A and the one with `second` shown as A:
    a side wins only when both orders pick it; a split, a tie or an unreadable order is a tie."""
    side = chosen_side(first_order, True)
    return side if side == chosen_side(second_order, False) else "tie"


class Judgment(BaseModel):
    """One judge output, kept whole: what was judged, the verdict read from it, and its cost."""

    model_config = ConfigDict(frozen=True)

    id: str
    check: Check
    subject: str  # correctness: "gold" or a side; preference: the side shown as answer A
    answers: list[str]  # what the judge was shown: the graded answer, or answers A and B
    verdict: str  # correct | incorrect | not_attempted | A | B | tie | unparseable
    reason: str  # the output without its verdict line
    raw: str  # the judge's whole output
    tokens_in: int
    tokens_out: int
    seconds: float
    cached: bool  # read from the cache: no judge call was made this time

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


class JudgeCost(BaseModel):
    judgments: int  # distinct judge prompts this result needed
    fresh: int  # ... of which the judge answered now (the rest came from the cache)
    tokens_in: int  # of the fresh ones
    tokens_out: int
    seconds: float  # judge time of the fresh ones (generation, or request round trips)

    @property
    def cached(self) -> int:
        return self.judgments - self.fresh

    def to_dict(self) -> dict[str, Any]:
        return {**self.model_dump(), "cached": self.cached}


class PreferenceSummary(BaseModel):
    """Which side the judge preferred, counted over the items, and how much position mattered."""

    first: str  # e.g. "base"
    second: str  # e.g. "tuned"
    n: int
    wins: int  # second (tuned) preferred in both orders
    losses: int  # first (base) preferred in both orders
    ties: int  # everything else, identical answers included
    identical: int  # answers equal: a tie without asking the judge
    p_value: float  # exact sign test, wins vs losses
    verdict: str  # "better", "worse" or "no significant difference" (of second against first)
    asked: int  # items whose two answers differed (judged in both orders)
    both_parsed: int  # ... whose two verdicts both parsed
    consistent: int  # ... which named the same answer (or tie) in both orders
    followed_position: int  # ... which picked the same letter in both orders
    alpha: float = 0.05

    @property
    def position_bias_rate(self) -> float | None:
        """Share of the parsed pairs where the verdict followed the position, not the answer."""
        return self.followed_position / self.both_parsed if self.both_parsed else None

    @property
    def consistency_rate(self) -> float | None:
        return self.consistent / self.both_parsed if self.both_parsed else None

    def to_dict(self) -> dict[str, Any]:
        return {**self.model_dump(), "position_bias_rate": self.position_bias_rate, "consistency_rate": self.consistency_rate}

    def sentence(self) -> str:
        bias = self.position_bias_rate
        position = "no pair parsed in both orders" if bias is None else (
            f"position bias {100 * bias:.0f}% ({self.followed_position} of {self.both_parsed} pairs "
            "picked the same position in both orders)"
        )
        identical = f", {self.identical} with identical answers" if self.identical else ""
        return (
            f"preference, {self.second} vs {self.first} (a win needs both orders to agree): "
            f"{self.wins} wins, {self.losses} losses, {self.ties} ties{identical}; "
            f"exact sign test p = {self.p_value:.2g}: {self.verdict}; {position}"
        )


class JudgeResult(BaseModel):
    """The judge's grades of each side against the gold, base vs tuned compared paired (McNemar
    exact), the preference in both orders, the judge's own checks and its cost."""

    judge: dict[str, Any]  # which judge, how it decoded (never a secret)
    rubrics: dict[str, dict[str, str]]  # kind -> sha256, source, file
    sides: list[str]  # the answers judged, e.g. ["base", "tuned"]
    n: int
    rates: dict[str, dict[str, float]]  # "gold" and each side -> judge_correct, judge_attempted, unparseable
    comparisons: list[MetricVerdict]  # base vs tuned, McNemar exact (two sides only)
    preference: PreferenceSummary | None  # two sides, judge.preference on
    guards: list[GuardResult]
    cost: JudgeCost
    unparseable: int  # judge outputs with no readable verdict (counted, shown, never dropped)
    judgments: list[Judgment] = Field(default_factory=list)  # judgments.jsonl, not summary.json

    @property
    def trustworthy(self) -> bool:
        """Whether the judge passed the gold check: only then is its verdict a headline."""
        return next((g.ok for g in self.guards if g.name == "judge_gold"), False)

    def item_view(self) -> dict[str, dict[str, Any]]:
        """id -> each side's grade and the judge's reason, and (two sides) the preference outcome
        with both orders' verdicts and reasons: the per-item view next to the answers."""
        view: dict[str, dict[str, Any]] = {}
        for j in self.judgments:
            entry = view.setdefault(j.id, {})
            if j.check == "correctness":
                entry[j.subject] = {"grade": j.verdict, "reason": j.reason}
            else:
                entry.setdefault("orders", {})[j.subject] = {"verdict": j.verdict, "reason": j.reason}
        if len(self.sides) == 2 and self.preference is not None:
            first, second = self.sides
            for entry in view.values():
                orders = entry.get("orders")
                if orders is None:
                    entry["preference"] = "identical answers"
                    continue
                side = preferred_side(orders[first]["verdict"], orders[second]["verdict"])
                entry["preference"] = {"first": f"{first} preferred", "second": f"{second} preferred"}.get(side, "tie")
        return view

    # --- in words: the console, report.html and report.md say the same -------------------------

    def judge_name(self) -> str:
        judge = self.judge
        where = f"at {judge['endpoint']}" if judge.get("kind") == "endpoint" else f"{judge.get('backend', 'hf')} backend"
        return f"{judge.get('model')} ({where}, greedy, max {judge.get('max_new_tokens')} new tokens)"

    def trust_sentence(self) -> str:
        gold = next(g for g in self.guards if g.name == "judge_gold")
        if self.trustworthy:
            return f"judge {self.judge_name()}: passed its gold check ({gold.message})"
        return f"judge {self.judge_name()}: NOT TRUSTWORTHY on this data; {gold.message.split(': ', 1)[-1]}"

    def cost_sentence(self) -> str:
        cost = self.cost
        return (
            f"{cost.judgments} distinct judge prompts ({cost.cached} from the cache, {cost.fresh} asked: {cost.tokens_in} tokens in, "
            f"{cost.tokens_out} out, {cost.seconds:.0f} s of judge time); {self.unparseable} unparseable, kept"
        )

    def rates_sentence(self) -> str:
        return "; ".join(
            f"{side}: {100 * rates['judge_correct']:.1f}% correct, {100 * rates['judge_attempted']:.1f}% attempted"
            for side, rates in self.rates.items()
        )

    # --- files ------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """judge.json (and summary.json's `judge` block): everything but the judgments."""
        return {
            "judge": self.judge, "rubrics": self.rubrics, "sides": self.sides, "n": self.n, "rates": self.rates,
            "comparison": [c.model_dump(exclude_unset=True) for c in self.comparisons],
            "preference": self.preference.to_dict() if self.preference else None,
            "guards": [g.model_dump() for g in self.guards], "trustworthy": self.trustworthy,
            "unparseable": self.unparseable, "cost": self.cost.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], judgments: list[Judgment] | None = None) -> JudgeResult:
        return cls(
            judge=payload["judge"], rubrics=payload["rubrics"], sides=payload["sides"], n=payload["n"], rates=payload["rates"],
            comparisons=[MetricVerdict.model_validate(c) for c in payload["comparison"]],
            preference=PreferenceSummary.model_validate(payload["preference"]) if payload.get("preference") else None,
            guards=[GuardResult.model_validate(g) for g in payload["guards"]],
            cost=JudgeCost.model_validate(payload["cost"]), unparseable=payload["unparseable"], judgments=judgments or [],
        )

    @classmethod
    def read(cls, folder: str | Path) -> JudgeResult | None:
        """The judge result a folder holds (judge.json), with its judgments (judgments.jsonl); None
        when the folder was not judged."""
        folder = Path(folder)
        path = folder / JUDGE_RESULT
        if not path.is_file():
            return None
        where = str(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            judgments = []
            lines = folder / JUDGMENTS
            if lines.is_file():
                for number, line in enumerate(lines.read_text(encoding="utf-8").splitlines(), start=1):
                    if line.strip():
                        where = f"{lines}:{number}"
                        judgments.append(Judgment.model_validate_json(line))
            where = str(path)
            return cls.from_dict(payload, judgments)
        except (ValueError, KeyError, TypeError) as error:  # a pydantic ValidationError is a ValueError
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise LorabenchError(f"{where}: not a lorabench judge result ({reason}); judge the answers again") from None

    def _repr_html_(self) -> str:
        first, second = (self.sides + self.sides)[:2]

        def scores(side: str) -> MetricScores:
            return MetricScores(n=self.n, **{m: self.rates[side][m] for m in JUDGE_METRICS})

        trust = f"<p style='color:{'#080' if self.trustworthy else '#b00'}'>{escape(self.trust_sentence())}</p>"
        parts = [trust]
        if self.comparisons:
            parts.append(verdict_table_html(self.comparisons, scores(first), scores(second), names=(first, second)))
        else:
            parts.append(f"<p>{escape(self.rates_sentence())}</p>")
        if self.preference is not None:
            parts.append(f"<p>{escape(self.preference.sentence())}</p>")
        parts += [guards_html([g for g in self.guards if g.name != "judge_gold"]), f"<p>{escape(self.cost_sentence())}</p>"]
        return "\n".join(parts)
