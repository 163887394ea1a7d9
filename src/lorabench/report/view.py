"""ReportData turned into display strings, shared by the HTML and the Markdown report.

Values stay plain text here; each renderer escapes for its own format.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lorabench.comparison.paired import POWER, MetricComparison, comparison_from_dict, run_verdict, with_roles
from lorabench.data.records import TaskKind
from lorabench.config.decoding import DEFAULT_MAX_NEW_TOKENS
from lorabench.comparison.guards import applicable
from lorabench.comparison.items import CATEGORIES, PRIMARY_METRIC, ItemPair, change_counts
from lorabench.comparison.paired import ShortSubset
from lorabench.report.collect import ReportData, RetentionData
from lorabench.report.judged import judge_view
from lorabench.report.verdicts import RETENTION_TITLE, VERDICT_CSS, multiplicity_sentence, tradeoff_sentence, verdict_detail  # noqa: F401 - VERDICT_CSS re-exported
from lorabench.core.kinds import ByKind, get_task

ITEM_GROUPS = (
    ("improved", "Improved: wrong before, right after", True),
    ("regressed", "Regressed: right before, wrong after", True),
    ("still_wrong", "Still wrong", False),
    ("still_right", "Right before and after", False),
)
MAX_ITEMS_SHOWN = 500  # per group; a 10k-item table would make the page unusable, the CSV has them all



def percent(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def with_interval(value: float | None, low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return percent(value)
    return f"{percent(value)} [{percent(low)}, {percent(high)}]"


@dataclass
class ReportView:
    title: str
    subtitle: str
    n: int
    alpha: float
    power: int
    primary: str
    verdicts: list[dict[str, str]]
    guards: list[dict[str, Any]]
    metric_rows: list[dict[str, str]]
    category_rows: list[dict[str, Any]]
    change_counts: dict[str, int]
    item_groups: list[dict[str, Any]]
    run_blocks: list[dict[str, Any]]
    cost_header: list[str] = field(default_factory=list)
    cost_rows: list[list[str]] = field(default_factory=list)
    cost_note: str = ""
    short: dict[str, Any] | None = None  # title, rows (as metric_rows), note; None where the task has no subset
    plots: list[dict[str, str]] = field(default_factory=list)  # caption, file name, data URI (HTML)
    missing_plots: list[str] = field(default_factory=list)
    retention: dict[str, Any] | None = None  # title, intro, verdicts (as `verdicts`), notes; None without retention
    multiplicity: str = ""  # which metric decides, and how many were tested (verdicts.multiplicity_sentence)
    judge: dict[str, Any] | None = None  # report.judged.judge_view; None for a run without a judge


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for index, inner in enumerate(value):
            _flatten(f"{prefix}[{index}]", inner, out)
    else:
        out.append((prefix, "-" if value is None else str(value)))


def settings_rows(payload: Any) -> list[tuple[str, str]]:
    """(dotted key, value text) rows of nested settings, as the run's setting tables show them."""
    rows: list[tuple[str, str]] = []
    _flatten("", payload or {}, rows)
    return rows


def _block(title: str, payload: Any) -> dict[str, Any]:
    return {"title": title, "rows": settings_rows(payload)}


def _item_row(pair: ItemPair, primary: str) -> dict[str, str]:
    return {
        "id": pair.id, "question": pair.question, "gold": " | ".join(pair.gold) or "(unanswerable)",
        "base": pair.base, "tuned": pair.tuned,
        "base_score": percent(pair.base_scores.get(primary)), "tuned_score": percent(pair.tuned_scores.get(primary)),
        "base_category": (pair.base_category or "").replace("_", " "),
        "tuned_category": (pair.tuned_category or "").replace("_", " "),
    }


COST_COLUMNS = ("n", "Q/Ctx", "PromptTok", "GenTok", "PromptTok_API", "Latency", "ParseFail")
GENERATION_COSTS = ("GenTok", "ParseFail")  # mean nothing when answers are scored, not generated

# What each cost column means, for the notes under the report's and the study's cost tables.
COST_MEANINGS = {
    "Q/Ctx": "questions per context in the test data (single asks each in its own prompt, batch all in one, "
             "sequential one per turn)",
    "PromptTok": "prompt tokens the model read per question (each token once, as with a kept KV cache)",
    "GenTok": "generated tokens per question",
    "PromptTok_API": "prompt tokens an API would bill per question (every call re-sends its prompt and history)",
    "Latency": "seconds per question",
    "ParseFail": "share of questions whose numbered answer was missing or ambiguous (batch strategy; scored wrong)",
}


def cost_columns(columns: tuple[str, ...] | list[str], generated_text: bool) -> list[str]:
    """The cost columns that apply: no generated tokens or parse failures where nothing was generated."""
    return [c for c in columns if generated_text or c not in GENERATION_COSTS]


def cost_note(columns: list[str]) -> str:
    return "; ".join(f"{c}: {COST_MEANINGS[c]}" for c in columns if c in COST_MEANINGS) + "."


# The error categories each task's wrong answers can fall in (see items.error_category); the
# first three need generated text: a scored choice always names an option, in full.
TASK_CATEGORIES: ByKind[tuple[str, ...]] = ByKind("error_categories")
GENERATION_CATEGORIES = ("empty", "cut", "format")


def error_categories(data: ReportData) -> list[str]:
    """The categories that apply to the run's task and choice mode, in CATEGORIES order; one that
    some answer fell in is always shown."""
    kinds = [k for k in TASK_CATEGORIES[data.task] if data.generated or k not in GENERATION_CATEGORIES]
    seen = {name for counts in data.categories.values() for name, count in counts.items() if count}
    return [name for name in CATEGORIES if name in kinds or name in seen]


def applicable_decoding(task: TaskKind, decoding: dict[str, Any] | None) -> dict[str, Any]:
    """The decoding settings that took part in this task's evaluation (the kind says which: for
    multiple choice, say, choice_mode, and max_new_tokens only when answers were generated). An
    unset max_new_tokens shows the default it took."""
    settings = get_task(task).shown_decoding(dict(decoding or {}))
    if "max_new_tokens" in settings and settings["max_new_tokens"] is None:
        settings["max_new_tokens"] = f"{DEFAULT_MAX_NEW_TOKENS[task]} (default for {TaskKind(task).value})"
    return settings


def _cost(name: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if name == "ParseFail":
        return percent(value)
    return f"{value:.0f}" if name == "n" else f"{value:.3g}"


def _leakage_counts(leakage: dict[str, Any]) -> dict[str, Any]:
    """Overlap counts per check; the examples stay in data/leakage.json."""
    out: dict[str, Any] = {}
    for pair, report in leakage.items():
        out[f"{pair} leakage"] = report.get("has_leakage")
        for kind, found in (report.get("kinds") or {}).items():
            # An id shared by records whose contents differ is counted, but it is not leakage.
            label = "id collisions (not leakage)" if kind == "same_id" else kind.replace("_", " ")
            out[f"{pair} {label}"] = found.get("count") if isinstance(found, dict) else found
    return out


def change_text(c: MetricComparison) -> str:
    """The change in points, with the changed items (binary) or the 95% interval of the change."""
    if c.improved is not None:
        detail = f" (+{c.improved}/-{c.regressed})"
    else:
        detail = "" if c.ci_low is None or c.ci_high is None else f" [{100 * c.ci_low:+.1f}, {100 * c.ci_high:+.1f}]"
    return f"{100 * c.difference:+.1f}{detail}"


def metric_row(c: MetricComparison, base: tuple[float | None, ...], tuned: tuple[float | None, ...]) -> dict[str, str]:
    """One metrics-table row; `base` and `tuned` are (value, low, high) as the summary stored them."""
    return {
        "metric": c.metric,
        "base": with_interval(*base),
        "tuned": with_interval(*tuned),
        "change": change_text(c),
        "test": c.test.replace("_", " "),
        "p": f"{c.p_value:.2g}",
        "verdict": c.verdict,
        "css": VERDICT_CSS.get(c.verdict, "ns"),
        "detectable": "-" if c.min_detectable is None else f"{100 * c.min_detectable:.1f}",
    }


def _short_view(data: ReportData, short: ShortSubset, n: int) -> dict[str, Any]:
    title = f"Short answers: gold of at most {short.thresh} tokens ({short.n} of {n} items)"
    if short.n == n:  # the same items: a second copy of the table above would only look like news
        return {"title": title, "rows": [], "note": f"Every test item has a gold answer of at most {short.thresh} "
                "tokens, so the subset is the whole test set: the table above is its table."}
    rows = []
    for c in short.comparisons:
        # Intervals as metrics.json stored them; a summary without a `short` block shows values only.
        base, tuned = data.short_interval("base", c.metric), data.short_interval("tuned", c.metric)
        rows.append(metric_row(c, base if base[0] is not None else (c.base, None, None),
                               tuned if tuned[0] is not None else (c.tuned, None, None)))
    return {
        "title": title,
        "rows": rows,
        "note": "" if rows else f"No test item has a gold answer of at most {short.thresh} tokens.",
    }


def _verdict_item(c: MetricComparison, label: str | None = None) -> dict[str, str]:
    return {"label": label or f"{c.metric}: {c.verdict}", "css": VERDICT_CSS.get(c.verdict, "ns"), "text": verdict_detail(c)}


def _retention_view(retention: RetentionData) -> dict[str, Any]:
    items = ", ".join(f"{task} ({n} documents)" for task, n in retention.items.items())
    return {
        "title": RETENTION_TITLE,
        "intro": f"lm-eval tasks, base vs tuned, paired by doc_id: {items}. Files in retention/base and retention/tuned.",
        "verdicts": [_verdict_item(c) for c in retention.comparisons],
        "notes": retention.notes,
    }


def build_view(data: ReportData) -> ReportView:
    summary, config = data.summary, data.config
    primary = PRIMARY_METRIC[data.task]
    alpha = float((config.get("metrics") or {}).get("alpha", 0.05))
    model = summary.get("model", {})
    sizes = summary.get("sizes", {})
    n = int(sizes.get("test") or len(data.pairs))
    correction = str((config.get("metrics") or {}).get("correction", "none"))
    # Summaries from before roles were stored get them here (no correction existed then).
    comparisons = data.comparisons if any(c.role for c in data.comparisons) else with_roles(data.comparisons, primary)
    verdicts = [_verdict_item(c, f"{c.metric} (primary metric): {c.verdict}" if c.role == "primary" else None)
                for c in comparisons]
    # metrics.primary: judge_correct, when the judge passed its gold check: the judge's verdict leads.
    judged = [comparison_from_dict(c) for c in (summary.get("judge") or {}).get("comparison", [])]
    verdicts[:0] = [_verdict_item(c, f"{c.metric} (primary metric, graded by the judge): {c.verdict}")
                    for c in judged if c.role == "primary"]
    note = (summary.get("verdict") or {}).get("note")
    if note:
        verdicts.insert(0, {"label": "judge not trusted", "css": "worse", "text": note})
    metric_rows = [metric_row(c, data.interval("base", c.metric), data.interval("tuned", c.metric)) for c in data.comparisons]
    short = None
    if data.short is not None:
        short = _short_view(data, data.short, n)
        verdicts += [
            _verdict_item(c, f"{c.metric} on short answers ({data.short.n} items): {c.verdict}")
            for c in data.short.comparisons if c.metric == primary and data.short.n < n
        ]
    tradeoff = tradeoff_sentence(data.comparisons, data.retention.comparisons) if data.retention else None
    if tradeoff:
        verdicts.append({"label": "trade-off", "css": "worse", "text": tradeoff})
    groups = []
    for key, title, open_ in ITEM_GROUPS:
        members = [p for p in data.pairs if p.change == key]
        groups.append({
            "key": key, "title": title, "open": open_ and bool(members), "total": len(members),
            "shown": min(len(members), MAX_ITEMS_SHOWN), "rows": [_item_row(p, primary) for p in members[:MAX_ITEMS_SHOWN]],
        })
    training = summary.get("training") or {}
    run_blocks = [
        _block("Model", {k: model.get(k) for k in ("name", "kind", "revision", "gguf_file", "sha256", "dtype", "device",
                                                   "load_in_4bit", "has_chat_template", "pad_token")}),
        _block("Data", {"task": summary.get("task"), **{f"{k} items": v for k, v in sizes.items()},
                        "validation from": (summary.get("validation") or {}).get("from"),
                        "validation warning": (summary.get("validation") or {}).get("warning"),
                        "config": config.get("data")}),
        _block("Prompt", config.get("prompt")),
        _block("Decoding", applicable_decoding(data.task, config.get("decoding"))),
        _block("LoRA", config.get("lora")),
        _block("Training", {**(config.get("training") or {}), **{f"result.{k}": v for k, v in training.items()}}),
        _block("Times (seconds)", {"work": summary.get("work_seconds"), "this session": summary.get("timings")}),
        _block("Leakage check", _leakage_counts(summary.get("leakage") or {})),
    ]
    costs = cost_columns(COST_COLUMNS, data.generated)
    return ReportView(
        title=f"lorabench report: {model.get('name', '?')} on {summary.get('task', '?')}",
        subtitle=f"run folder {data.run_dir.resolve()} · lorabench {summary.get('lorabench', '?')} · "
                 f"{sizes.get('train', '?')} train / {sizes.get('validation', '?')} validation / {sizes.get('test', '?')} test items",
        n=n,
        alpha=alpha,
        power=round(100 * POWER),
        primary=primary,
        verdicts=verdicts,
        multiplicity=multiplicity_sentence(run_verdict([*judged, *comparisons], alpha, correction)),
        guards=applicable(list(summary.get("guards") or []), data.generated),
        metric_rows=metric_rows,
        category_rows=[{"name": name.replace("_", " "), "meaning": CATEGORIES[name], "base": data.categories["base"][name],
                        "tuned": data.categories["tuned"][name]} for name in error_categories(data)],
        change_counts=change_counts(data.pairs),
        item_groups=groups,
        run_blocks=run_blocks,
        cost_header=["model", "strategy", *costs],
        cost_rows=[[which, strategy, *[_cost(name, values.get(name)) for name in costs]]
                   for which, by_strategy in data.costs.items() for strategy, values in by_strategy.items()],
        cost_note=cost_note(costs),
        short=short,
        retention=_retention_view(data.retention) if data.retention else None,
        judge=judge_view(data.judge, data.pairs) if data.judge is not None else None,
    )
