"""What the public functions return, typed and torch-free: a notebook can read a finished run
folder without loading a model. `import lorabench` exposes these names too.

scores.py: one evaluation's scores, one metric's verdict, one guard; summary.py: summary.json
(`RunSummary`); outcomes.py: each function's result; preview.py: `preview_prompts`' rendered
items; judged.py: a judge's (`JudgeResult`); html.py: their notebook view.
"""

from lorabench.results.judged import JudgeCost, JudgeResult, Judgment, PreferenceSummary
from lorabench.results.outcomes import (
    Comparison,
    EvalResult,
    LeakageExample,
    LeakageKind,
    LeakageResult,
    LmEvalComparison,
    MergeResult,
    ReportResult,
    RetentionVerdicts,
    RunResult,
    ScoreResult,
    StudyResult,
    StudyRun,
    TrackOutcome,
    TrainResult,
)
from lorabench.results.preview import FewShotShots, ItemView, Preview
from lorabench.results.scores import GuardResult, MetricScores, MetricVerdict
from lorabench.results.summary import RunSummary, ShortComparison, Sizes, TrainingFigures, ValidationSource

__all__ = [
    "Comparison", "EvalResult", "FewShotShots", "GuardResult", "ItemView", "JudgeCost", "JudgeResult", "Judgment",
    "LeakageExample", "LeakageKind", "LeakageResult", "LmEvalComparison", "MergeResult", "MetricScores", "MetricVerdict",
    "PreferenceSummary", "Preview", "ReportResult", "RetentionVerdicts", "RunResult", "RunSummary", "ScoreResult",
    "ShortComparison", "Sizes", "StudyResult", "StudyRun", "TrackOutcome", "TrainResult", "TrainingFigures", "ValidationSource",
]
