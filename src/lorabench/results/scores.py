"""The figures every result is made of: one evaluation's scores, one metric's paired verdict, one guard's finding.

Torch-free pydantic models with the keys metrics.json and summary.json hold; extra keys are kept.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer


class MetricScores(BaseModel):
    """One evaluation's aggregates (metrics.json, summary.json's `base` / `tuned`): `n`, each metric
    as a fraction (extra keys: `exact_match`, `f1`, ...), `ci95` intervals, the short-answer subset."""

    model_config = ConfigDict(extra="allow")

    task: str | None = None
    n: int
    ci95: dict[str, list[float | None]] = Field(default_factory=dict)
    short: MetricScores | None = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The file's key order: task, n, the metrics, ci95, short (absent when None).
        data = handler(self)
        ordered = {key: data[key] for key in ("task", "n") if data.get(key) is not None}
        ordered.update({name: data[name] for name in self.values if name in data})
        ordered.update({key: data[key] for key in ("ci95", "short") if data.get(key) is not None})
        return ordered

    @property
    def values(self) -> dict[str, float | None]:
        """Each metric's value as a fraction, in the order the task lists them."""
        return dict(self.model_extra or {})


class MetricVerdict(BaseModel):
    """One metric compared on the same items (summary.json's `comparison` entries)."""

    model_config = ConfigDict(extra="allow")

    metric: str
    n: int
    base: float | None
    tuned: float | None
    difference: float | None
    p_value: float | None
    test: str
    verdict: str
    improved: int | None = None
    regressed: int | None = None
    unchanged: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    min_detectable: float | None = None


class GuardResult(BaseModel):
    """One guard's finding: did the pipeline catch something that makes the numbers misleading?"""

    model_config = ConfigDict(extra="allow")

    name: str
    ok: bool
    message: str
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("message", mode="plain")
    @classmethod
    def _as_given(cls, value: Any) -> str:
        # Taken as it is, not copied into a plain str: a message that names a setting
        # (core.messages.Message) keeps it, so a command words it as its own option.
        if not isinstance(value, str):
            raise ValueError("Input should be a valid string")
        return value
