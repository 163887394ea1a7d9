"""summary.json: what `lorabench run` found, as `RunSummary`.

The pipeline writes summary.json through this schema, and every summary written since the first
release reads back (keys added later are optional; keys this version does not know are kept).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from lorabench.core.errors import LorabenchError
from lorabench.results.html import guards_html, verdict_table_html
from lorabench.results.scores import GuardResult, MetricScores, MetricVerdict


class Sizes(BaseModel):
    train: int
    validation: int
    test: int


class ValidationSource(BaseModel):
    items: int
    # `from` is a Python keyword: the attribute is `source`, the key stays `from`.
    source: str = Field(alias="from", serialization_alias="from")
    warning: str | None = None

    model_config = ConfigDict(populate_by_name=True)


class TrainingFigures(BaseModel):
    """The whole training's figures, also after an interruption and resume."""

    model_config = ConfigDict(extra="allow")

    steps: int
    epochs: float
    train_loss: float | None = None  # summaries before this figure existed leave it out
    train_seconds: float | None = None
    tokens_per_second: float | None = None
    best_val_metric: float | None = None
    stopped_early: bool = False


class ShortComparison(BaseModel):
    """base vs tuned on the items whose gold answer has at most `thresh` tokens."""

    model_config = ConfigDict(extra="allow")

    thresh: int
    n: int
    alpha: float = 0.05
    resamples: int = 10_000
    comparison: list[MetricVerdict] = Field(default_factory=list)


# Keys added over time that the pipeline writes only when they apply.
_OMITTED_WHEN_NONE = ("prompt_change", "retention", "precision")


class RunSummary(BaseModel):
    """summary.json: what `lorabench run` found. Older summaries read back (see the module docstring)."""

    model_config = ConfigDict(extra="allow")

    lorabench: str
    task: str
    model: dict[str, Any]
    sizes: Sizes
    validation: ValidationSource | None = None
    base: MetricScores
    tuned: MetricScores
    comparison: list[MetricVerdict]
    short_comparison: ShortComparison | None = None
    guards: list[GuardResult]
    leakage: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    work_seconds: dict[str, float | None] | None = None
    training: TrainingFigures | None = None
    prompt_change: dict[str, Any] | None = None
    retention: dict[str, Any] | None = None
    # What each pass computed in: base_eval and tuned_eval dtypes, training's {weights, autocast, adapter}.
    precision: dict[str, Any] | None = None

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        for key in _OMITTED_WHEN_NONE:
            if data.get(key) is None:
                data.pop(key, None)
        if self.work_seconds is None:
            data.pop("work_seconds", None)  # an old summary rewritten stays as it was
        return data

    @classmethod
    def read(cls, path: str | Path) -> RunSummary:
        """A run folder's summary.json (or the file itself)."""
        path = Path(path)
        file = path / "summary.json" if path.is_dir() else path
        if not file.is_file():
            raise LorabenchError(f"{file}: no such file; is {path} a finished `lorabench run` folder?")
        try:
            return cls.model_validate(json.loads(file.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise LorabenchError(f"{file}: not a lorabench summary ({str(error).splitlines()[0]})") from None

    def to_json_dict(self) -> dict[str, Any]:
        """The summary.json payload: the keys it was read or built with, so a summary rewritten
        keeps the shape it had."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def __getitem__(self, key: str) -> Any:
        """summary["sizes"]["test"]: the summary.json view, for code written against the dict."""
        return self.to_json_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_json_dict().get(key, default)

    def verdict(self, metric: str) -> MetricVerdict:
        found = next((c for c in self.comparison if c.metric == metric), None)
        if found is None:
            raise KeyError(f"{metric}: not compared in this run; compared: {', '.join(c.metric for c in self.comparison)}")
        return found

    def _repr_html_(self) -> str:
        model = escape(str(self.model.get("name", "?")))
        head = (f"<b>{model}</b>, task {escape(self.task)}: train {self.sizes.train}, validation "
                f"{self.sizes.validation}, test {self.sizes.test} items")
        parts = [f"<p>{head}</p>", verdict_table_html(self.comparison, self.base, self.tuned)]
        short = self.short_comparison
        if short is not None and short.n == self.base.n:
            parts.append(f"<p>short answers (gold &lt;= {short.thresh} tokens): all {short.n} test items, "
                         "so the table above is theirs</p>")
        elif short is not None and short.comparison:
            parts.append(f"<p>short answers (gold &lt;= {short.thresh} tokens), {short.n} items</p>")
            parts.append(verdict_table_html(short.comparison, self.base.short, self.tuned.short))
        parts.append(guards_html(self.guards))
        if self.prompt_change is not None:
            parts.append(f"<p style='color:#b00'>evaluated under changed prompt settings: "
                         f"{escape(json.dumps(self.prompt_change, default=str))}</p>")
        return "\n".join(parts)
