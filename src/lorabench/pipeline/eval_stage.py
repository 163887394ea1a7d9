"""The run's evaluation stage: one model (the base, or base + the trained adapter) evaluated on the
test split into its own folder of the run (`base/`, `tuned/`), with the settings that make the two
provably comparable in its config.yaml, then its metrics.json and lm-eval-style results."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lorabench.data.records import Record
from lorabench.evaluation.accounting import row_cost
from lorabench.evaluation.results import EvalOutcome, write_results
from lorabench.evaluation.runner import evaluate_in_folder
from lorabench.evaluation.sharding import current_shard
from lorabench.inference import get_backend, release_engines
from lorabench.metrics.scoring import SCORING_VERSION, ScoreSettings
from lorabench.models.load import LoadedModel
from lorabench.pipeline.resolve import EvalPlan
from lorabench.runs.folder import library_versions
from lorabench.runs.predictions import PredictionRow

# (stage name, items, items already done, recorded seconds of a stage found finished) -> advance(k)
ProgressFactory = Callable[[str, int, int, "float | None"], Callable[[int], None]]


def eval_stage(
    name: str,
    loaded: LoadedModel,
    records: list[Record],
    records_sha256: str,
    plan: EvalPlan,
    out: Path,
    force: bool,
    progress: ProgressFactory | None,
) -> EvalOutcome:
    """Evaluate into out/<name>; the folder's config makes base and tuned provably comparable.
    `records_sha256` is the records' fingerprint as prompted (records_digest, with their other
    columns under prompt templates): a run's is made once when its data is split."""
    decoding = plan.decoding
    settings = plan.prompt.settings
    model = loaded.description
    stage_config = {
        "stage": name,
        "model": model,
        "items": {"n": len(records), "sha256": records_sha256},
        "prompt": settings.model_dump(mode="json"),
        "decoding": decoding.model_dump(mode="json"),
        # metrics.primary chooses the verdict, not a score: naming one later keeps the finished stages.
        "metrics": plan.metrics.model_dump(mode="json", exclude={"primary"}),
        "scoring_version": SCORING_VERSION,
        "versions": library_versions(),
    }

    def bar(total: int, done: list[PredictionRow]) -> Callable[[int], None]:
        # A stage found finished shows what it took when it ran, not this session's near-zero time.
        recorded = eval_seconds(done) if len(done) >= total else None
        return progress(f"eval {name}", total, len(done), recorded)  # type: ignore[misc]

    backend = get_backend(decoding.backend, loaded, decoding)
    outcome = evaluate_in_folder(
        backend, plan.task, records, plan.prompt.fitted, decoding, ScoreSettings.of(plan.metrics), out / name, stage_config,
        force, bar if progress else None,
    )
    release_engines()  # the next stage trains, or serves the adapter from an engine of its own
    if current_shard().main:
        write_results(outcome, model)
    return outcome


def eval_seconds(rows: list[PredictionRow]) -> float:
    """Generation time of an evaluation from its rows (each holds its share of its batch's time)."""
    return round(sum(row_cost(r).latency for r in rows), 2)
