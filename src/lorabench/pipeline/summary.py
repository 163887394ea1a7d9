"""What summary.json and summary.csv hold of a finished run beside the stages' results (where its
test items came from, what each pass computed in, the comparison table), and the two files written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lorabench.comparison.paired import MetricComparison
from lorabench.config.run import RunConfig
from lorabench.evaluation.runner import EvalOutcome
from lorabench.models.load import LoadedModel
from lorabench.results import RunSummary
from lorabench.runs.folder import csv_text, write_atomic, write_json


def test_data(config: RunConfig, test_sha256: str) -> dict[str, str]:
    """What the test items came from (the data file's name, or a Hugging Face dataset's id) and the
    fingerprint of exactly those items (SplitDigests.test): the model card's model-index names the
    dataset by them."""
    spec = config.data.test or config.data.source
    assert spec is not None
    name = Path(spec.path).name if spec.path is not None else "/".join(filter(None, (spec.hf, spec.hf_config)))
    return {"name": name, "sha256": test_sha256}


def pass_precisions(base: LoadedModel, adapter_dir: Path, tuned: LoadedModel) -> dict[str, Any]:
    """summary.json's `precision`: what each pass computed in; the training's from its adapter's
    lorabench.json (None for an adapter made before it was recorded)."""
    meta = json.loads((adapter_dir / "lorabench.json").read_text(encoding="utf-8"))
    return {
        "base_eval": str(base.dtype).removeprefix("torch."),
        "training": meta.get("precision"),
        "tuned_eval": str(tuned.dtype).removeprefix("torch."),
    }


def summary_csv(comparisons: list[MetricComparison], base: EvalOutcome, tuned: EvalOutcome) -> str:
    columns = ["metric", "n", "base", "base_low", "base_high", "tuned", "tuned_low", "tuned_high",
               "difference", "diff_low", "diff_high", "p_value", "test", "verdict", "improved", "regressed", "min_detectable"]
    rows = []
    for c in comparisons:
        b, t = base.metrics.metrics[c.metric], tuned.metrics.metrics[c.metric]
        rows.append({
            "metric": c.metric, "n": c.n, "base": round(b.value, 6), "base_low": round(b.low, 6), "base_high": round(b.high, 6),
            "tuned": round(t.value, 6), "tuned_low": round(t.low, 6), "tuned_high": round(t.high, 6),
            "difference": round(c.difference, 6), "diff_low": c.ci_low, "diff_high": c.ci_high, "p_value": c.p_value,
            "test": c.test, "verdict": c.verdict, "improved": c.improved, "regressed": c.regressed,
            "min_detectable": None if c.min_detectable is None else round(c.min_detectable, 6),
        })
    return csv_text(rows, columns)


def write_summary(
    out: Path, summary: RunSummary, comparisons: list[MetricComparison], base: EvalOutcome, tuned: EvalOutcome
) -> None:
    """The run's summary.json, and summary.csv: its comparisons as a table, for a spreadsheet."""
    table = summary_csv(comparisons, base, tuned)
    write_json(out / "summary.json", summary.to_json_dict())
    write_atomic(out / "summary.csv", table)
