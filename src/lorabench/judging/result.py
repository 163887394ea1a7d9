"""The typed results of judging: one `Judgment` per judge call (a line of judgments.jsonl) and the
`JudgeResult` a run, `lorabench judge` and `lorabench.judge(...)` return and summary.json stores."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lorabench.comparison.guards import Finding
from lorabench.comparison.paired import MetricComparison, comparison_from_dict
from lorabench.judging.stats import PreferenceSummary
from lorabench.judging.verdicts import pair_outcome

Check = Literal["correctness", "preference"]


@dataclass(frozen=True)
class Judgment:
    """One judge output, kept whole: what was judged, the verdict read from it, and its cost."""

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
        return asdict(self)


@dataclass(frozen=True)
class JudgeCost:
    judgments: int  # distinct judge prompts this result needed
    fresh: int  # ... of which the judge answered now (the rest came from the cache)
    tokens_in: int  # of the fresh ones
    tokens_out: int
    seconds: float  # judge time of the fresh ones (generation, or request round trips)

    @property
    def cached(self) -> int:
        return self.judgments - self.fresh

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cached": self.cached}


@dataclass(frozen=True)
class JudgeResult:
    judge: dict[str, Any]  # which judge, how it decoded (never a secret)
    rubrics: dict[str, dict[str, str]]  # kind -> sha256, source, file
    sides: list[str]  # the answers judged, e.g. ["base", "tuned"]
    n: int
    rates: dict[str, dict[str, float]]  # "gold" and each side -> judge_correct, judge_attempted, unparseable
    comparisons: list[MetricComparison]  # base vs tuned, McNemar exact (two sides only)
    preference: PreferenceSummary | None  # two sides, judge.preference on
    guards: list[Finding]
    cost: JudgeCost
    unparseable: int  # judge outputs with no readable verdict (counted, shown, never dropped)
    judgments: list[Judgment] = field(default_factory=list, compare=False)  # judgments.jsonl, not summary.json

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
                outcome = pair_outcome(orders[first]["verdict"], orders[second]["verdict"]).outcome
                entry["preference"] = {"first": f"{first} preferred", "second": f"{second} preferred"}.get(outcome, "tie")
        return view

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge, "rubrics": self.rubrics, "sides": self.sides, "n": self.n, "rates": self.rates,
            "comparison": [c.to_dict() for c in self.comparisons],
            "preference": self.preference.to_dict() if self.preference else None,
            "guards": [g.to_dict() for g in self.guards], "trustworthy": self.trustworthy,
            "unparseable": self.unparseable, "cost": self.cost.to_dict(),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any], judgments: list[Judgment] | None = None) -> "JudgeResult":
        cost = {k: v for k, v in payload["cost"].items() if k != "cached"}
        return cls(
            payload["judge"], payload["rubrics"], payload["sides"], payload["n"], payload["rates"],
            [comparison_from_dict(c) for c in payload["comparison"]],
            PreferenceSummary.from_dict(payload["preference"]) if payload.get("preference") else None,
            [Finding(**g) for g in payload["guards"]], JudgeCost(**cost), payload["unparseable"], judgments or [],
        )
