"""lorabench: LoRA fine-tuning of small language models on QA data, with honest before/after numbers.

From Python::

    import lorabench
    result = lorabench.run("examples/extractive.yaml")   # or a RunConfig, or a dict
    result.verdict("exact_match").verdict               # 'better', 'worse' or 'no significant difference'

`run`, `evaluate`, `train`, `compare`, `score`, `study`, `judge` and `track` are in lorabench.api; the settings models
and the result types are importable from here too. Everything loads on first use: `import lorabench`
imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lorabench.core.version import __version__

# public name -> module that defines it
_PUBLIC = {
    **dict.fromkeys(("run", "evaluate", "train", "compare", "score", "study", "judge", "track"), "lorabench.api"),
    "JudgeSettings": "lorabench.config.judge",
    "TrackingSettings": "lorabench.config.tracking",
    **dict.fromkeys(("RunConfig", "PipelineData", "SplitSettings"), "lorabench.config.run"),
    **dict.fromkeys(
        ("ModelSpec", "LoraSettings", "TrainSettings", "MetricSettings", "ScoringSettings", "RetentionSettings"),
        "lorabench.config.settings",
    ),
    "DataSpec": "lorabench.data.spec",
    "TaskKind": "lorabench.data.records",
    "PromptSettings": "lorabench.config.prompt",
    "DecodingSettings": "lorabench.config.decoding",
    "SweepSettings": "lorabench.studies.grid",
    **dict.fromkeys(
        ("RunResult", "RunSummary", "EvalResult", "TrainResult", "Comparison", "ScoreResult", "StudyResult",
         "StudyRun", "MetricScores", "MetricVerdict", "GuardResult", "TrackOutcome", "MergeResult", "LeakageResult",
         "LmEvalComparison", "Preview", "JudgeResult", "Judgment"),
        "lorabench.results",
    ),
    "LorabenchError": "lorabench.core.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'lorabench' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})


if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports on first use
    from lorabench.api import compare, evaluate, judge, run, score, study, track, train
    from lorabench.config.judge import JudgeSettings
    from lorabench.config.tracking import TrackingSettings
    from lorabench.config.run import PipelineData, RunConfig, SplitSettings
    from lorabench.data.records import TaskKind
    from lorabench.data.spec import DataSpec
    from lorabench.core.errors import LorabenchError
    from lorabench.config.decoding import DecodingSettings
    from lorabench.config.prompt import PromptSettings
    from lorabench.results import (
        Comparison,
        EvalResult,
        GuardResult,
        JudgeResult,
        Judgment,
        LeakageResult,
        LmEvalComparison,
        MergeResult,
        MetricScores,
        MetricVerdict,
        Preview,
        RunResult,
        RunSummary,
        ScoreResult,
        StudyResult,
        StudyRun,
        TrainResult,
    )
    from lorabench.config.settings import LoraSettings, MetricSettings, ModelSpec, RetentionSettings, TrainSettings
    from lorabench.metrics.settings import ScoringSettings
    from lorabench.studies.grid import SweepSettings
