"""What each public function returns (`lorabench.run`, `evaluate`, `train`, `compare`, `score`, `study`, `track`,
and lorabench.api's `merge`, `leakage`, `compare_lm_eval`).

Each result has `_repr_html_`, so a notebook cell shows the verdict table and the guards.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from lorabench.results.html import metrics_table_html, verdict_table_html
from lorabench.results.scores import GuardResult, MetricScores, MetricVerdict
from lorabench.results.summary import RunSummary, TrainingFigures


class RetentionVerdicts(BaseModel):
    """The retention section in words: lm-eval tasks base vs tuned, paired by doc_id."""

    title: str
    items: dict[str, int]  # documents compared per lm-eval task
    sentences: list[str]  # one verdict per task and metric
    notes: list[str] = Field(default_factory=list)
    tradeoff: str | None = None  # a gain on the target task that came with a loss here, said out loud


class RunResult(BaseModel):
    """`lorabench.run(config)`: the run folder, its report and its summary, and, from the run
    itself (empty when read back with `from_folder`), what the command says at the end."""

    out: Path
    report: Path
    summary: RunSummary
    applicable_guards: list[GuardResult] = Field(default_factory=list)  # the generation guards only where answers were generated
    sentences: list[str] = Field(default_factory=list)  # one verdict sentence per metric
    multiplicity: str = ""  # which metric decides, and how far to trust the others
    retention: RetentionVerdicts | None = None

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
    prompt_change_text: str | None = None  # that difference in words (its first differing line)

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
    sentences: list[str] = Field(default_factory=list)  # each metric's verdict in words (A -> B)
    multiplicity: str = ""  # which metric decides, and how far to trust the others

    def _repr_html_(self) -> str:
        parts = [f"<p>A = {escape(self.name_a)} ({escape(self.a)}); B = {escape(self.name_b)} ({escape(self.b)}); "
                 f"{self.n} paired items</p>"]
        parts += [f"<p style='color:#a60'>compared anyway despite {escape(d)}</p>" for d in self.forced_despite]
        parts += [f"<p style='color:#a60'>warning: {escape(w)}</p>" for w in self.warnings]
        parts.append(verdict_table_html(self.comparisons, self.metrics_a, self.metrics_b, names=("A", "B")))
        parts.append("<p>" + escape(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.items.items())) + "</p>")
        return "\n".join(parts)


class LmEvalComparison(BaseModel):
    """`lorabench.api.compare_lm_eval(a, b)`: two lm-eval runs, paired by doc_id per task and metric (B - A)."""

    a: str  # each run as given: an --output_path folder, a results_*.json or a samples file
    b: str
    model_a: str  # the model lm-eval evaluated (`pretrained`, `+ peft` with an adapter)
    model_b: str
    results_a: str | None = None  # the results_*.json read (None: a samples file alone)
    results_b: str | None = None
    items: dict[str, int]  # documents paired, per task
    comparisons: list[MetricVerdict]  # one per task and metric, named TASK/METRIC
    sentences: list[str] = Field(default_factory=list)  # each comparison's verdict in words (A -> B)
    forced_despite: list[str] = Field(default_factory=list)  # what differed when compared with anyway=True
    notes: list[str] = Field(default_factory=list)  # reported, not refused: other prompts, metrics without a test

    def to_dict(self) -> dict[str, Any]:
        """The `compare --json` payload: each `comparison` entry carries lorabench's own comparison fields."""
        return {
            "a": self.a, "b": self.b, "format": "lm-eval", "results": {"a": self.results_a, "b": self.results_b},
            "tasks": self.items, "forced_despite": self.forced_despite, "notes": self.notes,
            "comparison": [c.model_dump() for c in self.comparisons],
        }

    def _repr_html_(self) -> str:
        parts = [f"<p>A = {escape(self.model_a)} ({escape(self.a)}); B = {escape(self.model_b)} ({escape(self.b)})</p>"]
        parts += [f"<p style='color:#a60'>compared anyway despite {escape(d)}</p>" for d in self.forced_despite]
        parts += [f"<p>{escape(s)}</p>" for s in self.sentences]
        parts += [f"<p style='color:#a60'>note: {escape(n)}</p>" for n in self.notes]
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


class MergeResult(BaseModel):
    """`lorabench.api.merge(adapter, out)`: the merged model, and the check it passed."""

    out: Path
    base: str  # the base model the adapter was merged into, as it was named
    checked: int  # check items on which both models gave the same greedy answer (all of them, or it failed)
    items_from: str  # where the check items came from


class LeakageExample(BaseModel):
    """One overlapping pair: the first set's record, the second's, and a short text showing the overlap."""

    a_id: str
    b_id: str
    snippet: str


class LeakageKind(BaseModel):
    """One kind of overlap: the second set's items it affects, and a few example pairs."""

    count: int
    examples: list[LeakageExample]


class LeakageResult(BaseModel):
    """`lorabench.api.leakage(train, test, task)`: overlap between two data files."""

    size_a: int
    size_b: int
    ngram: int
    has_leakage: bool
    id_collisions: int  # second-set ids naming another record in the first (reported, not leakage)
    kinds: dict[str, LeakageKind]  # same_id, same_question, same_context, near_duplicate_question
    summary: str  # the findings in words: a headline, then each kind's count and examples

    def to_dict(self) -> dict[str, Any]:
        """The `leakage --json` payload (the run manifest's leakage entry)."""
        return self.model_dump(exclude={"summary"})


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


class ReportResult(BaseModel):
    """`lorabench.api.report(run_dir)`: the report files written, and the screenshot when asked for."""

    html: Path
    markdown: Path
    screenshot: Path | None = None
    problem: str | None = None  # what did not render cleanly in the screenshot's browser, if anything


class TrackOutcome(BaseModel):
    """`lorabench.track(folder)`: what one tracker did with one run, eval or study folder."""

    folder: Path
    backend: str
    state: Literal["sent", "already sent", "failed"]
    run_id: str | None = None  # the tracker run's id (also kept in the folder's tracking.json)
    where: str | None = None  # where to see it: a run and experiment, an offline folder, a log dir
    error: str | None = None
