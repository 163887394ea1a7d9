"""What the public functions return (`lorabench.run`, `evaluate`, `train`, `compare`, `score`, `study`).

Typed and torch-free: a notebook can read a finished run folder without loading a model.
`RunSummary` is summary.json: the pipeline writes it through this schema, and every summary written
since the first release reads back (keys added later are optional; keys this version does not know
are kept). Each result has `_repr_html_`, so a notebook cell shows the verdict table and the guards;
every string that comes from data, models or paths is escaped.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from lorabench.core.errors import LorabenchError


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
_OMITTED_WHEN_NONE = ("prompt_change", "retention")


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


def _percent(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _with_interval(scores: MetricScores | None, metric: str) -> str:
    if scores is None:
        return ""
    value = scores.values.get(metric)
    low, high = (scores.ci95.get(metric) or [None, None])[:2]
    interval = f" [{_percent(low)}, {_percent(high)}]" if low is not None and high is not None else ""
    return escape(_percent(value) + interval)


_VERDICT_COLOUR = {"better": "#080", "worse": "#b00"}


def verdict_table_html(
    comparisons: list[MetricVerdict], before: MetricScores | None, after: MetricScores | None,
    names: tuple[str, str] = ("base", "tuned"),
) -> str:
    """The paired table as HTML: each metric before and after (%, 95% CI), the difference (with its
    95% interval for bootstrapped metrics), p and verdict."""
    head = "".join(f"<th>{escape(h)}</th>" for h in ("metric", f"{names[0]} %", f"{names[1]} %", "diff (pts)", "p", "verdict", "improved / regressed"))
    rows = []
    for c in comparisons:
        colour = _VERDICT_COLOUR.get(c.verdict)
        verdict = f"<span style='color:{colour}'>{escape(c.verdict)}</span>" if colour else escape(c.verdict)
        changed = f"{c.improved} / {c.regressed}" if c.improved is not None else ""
        p = "" if c.p_value is None else f"{c.p_value:.2g}"
        diff = "" if c.difference is None else f"{100 * c.difference:+.1f}"
        if diff and c.ci_low is not None and c.ci_high is not None:  # the bootstrap's interval of the difference
            diff += f" [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
        cells = [escape(c.metric), _with_interval(before, c.metric), _with_interval(after, c.metric), diff, p, verdict, changed]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def guards_html(guards: list[GuardResult]) -> str:
    if not guards:
        return ""
    items = "".join(
        f"<li><span style='color:{'#080' if g.ok else '#b00'}'>{'ok' if g.ok else 'WARNING'}</span> "
        f"{escape(g.name)}: {escape(g.message)}</li>"
        for g in guards
    )
    return f"<p>guards</p><ul>{items}</ul>"


def metrics_table_html(scores: MetricScores, title: str = "") -> str:
    head = "<tr><th>metric</th><th>%</th><th>95% CI</th></tr>"
    rows = []
    for metric, value in scores.values.items():
        low, high = (scores.ci95.get(metric) or [None, None])[:2]
        rows.append(f"<tr><td>{escape(metric)}</td><td>{_percent(value)}</td><td>{_percent(low)} - {_percent(high)}</td></tr>")
    caption = f"<caption>{escape(title)} (n = {scores.n})</caption>"
    return f"<table>{caption}<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


class RunResult(BaseModel):
    """`lorabench.run(config)`: the run folder, its report and its summary."""

    out: Path
    report: Path
    summary: RunSummary

    @classmethod
    def from_folder(cls, folder: str | Path) -> RunResult:
        """A finished run folder, read without loading a model."""
        folder = Path(folder)
        return cls(out=folder, report=folder / "report.html", summary=RunSummary.read(folder))

    @property
    def comparisons(self) -> list[MetricVerdict]:
        return self.summary.comparison

    @property
    def guards(self) -> list[GuardResult]:
        return self.summary.guards

    def verdict(self, metric: str) -> MetricVerdict:
        return self.summary.verdict(metric)

    def _repr_html_(self) -> str:
        return self.summary._repr_html_() + f"<p>run folder: <code>{escape(str(self.out))}</code></p>"


class EvalResult(BaseModel):
    """`lorabench.evaluate(...)`: one model (with or without an adapter) on one data set."""

    out: Path
    model: str
    adapter: str | None = None
    data: str
    task: str
    metrics: MetricScores
    resumed: int = 0  # items found already done in the folder
    hit_max_new_tokens: int = 0  # answers that may have been cut
    prompt_shortened: int = 0
    prompt_change: dict[str, Any] | None = None  # prompts other than the adapter's training ones (allowed)

    def _repr_html_(self) -> str:
        applied = f" + adapter {self.adapter}" if self.adapter else ""
        parts = [metrics_table_html(self.metrics, f"{self.model}{applied} on {self.data} ({self.task})")]
        if self.hit_max_new_tokens:
            parts.append(f"<p style='color:#a60'>{self.hit_max_new_tokens} of {self.metrics.n} answers hit "
                         "max_new_tokens (possibly cut)</p>")
        if self.prompt_change is not None:
            parts.append("<p style='color:#b00'>evaluated under prompts the adapter was not trained with</p>")
        return "\n".join(parts)


class Comparison(BaseModel):
    """`lorabench.compare(a, b)`: two evaluations of the same items, paired (B - A)."""

    a: str
    b: str
    name_a: str
    name_b: str
    n: int
    comparisons: list[MetricVerdict]
    metrics_a: MetricScores
    metrics_b: MetricScores
    items: dict[str, int]  # improved / regressed / unchanged ... item counts
    forced_despite: list[str] = Field(default_factory=list)  # what differed when compared with anyway=True
    warnings: list[str] = Field(default_factory=list)  # other engines or library versions behind A and B

    def _repr_html_(self) -> str:
        parts = [f"<p>A = {escape(self.name_a)} ({escape(self.a)}); B = {escape(self.name_b)} ({escape(self.b)}); "
                 f"{self.n} paired items</p>"]
        parts += [f"<p style='color:#a60'>compared anyway despite {escape(d)}</p>" for d in self.forced_despite]
        parts += [f"<p style='color:#a60'>warning: {escape(w)}</p>" for w in self.warnings]
        parts.append(verdict_table_html(self.comparisons, self.metrics_a, self.metrics_b, names=("A", "B")))
        parts.append("<p>" + escape(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.items.items())) + "</p>")
        return "\n".join(parts)


class ScoreResult(BaseModel):
    """`lorabench.score(...)`: predictions made elsewhere, scored with the task's metrics."""

    task: str
    metrics: MetricScores
    skipped: list[str] = Field(default_factory=list)  # rows skipped with skip_invalid=True, with where and why
    metrics_path: Path | None = None  # metrics.json, when `out` was given

    def _repr_html_(self) -> str:
        skipped = f"<p style='color:#a60'>{len(self.skipped)} invalid row(s) skipped</p>" if self.skipped else ""
        return metrics_table_html(self.metrics, f"predictions ({self.task})") + skipped


class TrainResult(BaseModel):
    """What a training run did. The figures are the whole run's, across an interruption and resume."""

    adapter_dir: Path
    log_path: Path
    steps: int
    epochs: float
    train_loss: float | None  # mean per-step training loss over all steps
    train_seconds: float  # wall time of training, validation included
    tokens_per_second: float  # non-padding input tokens per second of training (validation time excluded)
    best_val_metric: float | None
    stopped_early: bool
    merged_dir: Path | None = None

    def figures(self) -> TrainingFigures:
        """summary.json's `training`."""
        return TrainingFigures(
            steps=self.steps, epochs=self.epochs, train_loss=self.train_loss, train_seconds=self.train_seconds,
            tokens_per_second=self.tokens_per_second, best_val_metric=self.best_val_metric,
            stopped_early=self.stopped_early,
        )

    def _repr_html_(self) -> str:
        loss = "" if self.train_loss is None else f", mean loss {self.train_loss:.4g}"
        best = "" if self.best_val_metric is None else f", best validation metric {self.best_val_metric:.3f}"
        stopped = " (stopped early)" if self.stopped_early else ""
        return (f"<p>trained {self.steps} steps ({self.epochs:.2f} epochs) in {self.train_seconds:.0f} s, "
                f"{self.tokens_per_second:.0f} tokens/s{loss}{best}{stopped}</p>"
                f"<p>adapter: <code>{escape(str(self.adapter_dir))}</code></p>")


class StudyRun(BaseModel):
    name: str
    state: str  # "done" (finished earlier, kept), "ran", "failed"
    seconds: float
    out: Path
    error: str | None = None


class StudyResult(BaseModel):
    """`lorabench.study(config)`: each grid point's state, and the study page rebuilt from disk."""

    out: Path
    runs: list[StudyRun]
    page: Path | None = None
    finished: int = 0  # runs with a summary on disk (the page's count)

    @property
    def failed(self) -> list[StudyRun]:
        return [r for r in self.runs if r.state == "failed"]

    def results(self) -> dict[str, RunResult]:
        """Each finished run's result, read from its folder."""
        return {r.name: RunResult.from_folder(r.out) for r in self.runs if (r.out / "summary.json").is_file()}

    def _repr_html_(self) -> str:
        rows = []
        for run in self.runs:
            verdicts = ""
            if (run.out / "summary.json").is_file():
                summary = RunSummary.read(run.out)
                verdicts = "; ".join(f"{c.metric} {c.verdict}" for c in summary.comparison[:2])
            error = f" ({run.error})" if run.error else ""
            rows.append(f"<tr><td>{escape(run.name)}</td><td>{escape(run.state + error)}</td><td>{escape(verdicts)}</td></tr>")
        page = f"<p>study page: <code>{escape(str(self.page))}</code></p>" if self.page else ""
        return f"<table><thead><tr><th>run</th><th>state</th><th>verdicts</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{page}"
