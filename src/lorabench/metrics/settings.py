"""The scoring knobs the metric functions read (a config's `metrics:` section extends them).

Pydantic only: the config layer above builds on this without importing scipy or rouge-score.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScoringSettings(BaseModel):
    """How answers are scored: the short-answer subset and ROUGE-L accuracy.

    The one declaration of these knobs: `eval` keeps them at the top of its config (as its saved
    folders always had them), `run` and `study` under `metrics`, `score` as options.
    """

    model_config = ConfigDict(extra="forbid")

    short_thresh: int = Field(3, ge=1, description="Gold answers of at most this many tokens are 'short'.")
    rouge_threshold: float = Field(0.5, ge=0, le=1, description="ROUGE-L F at or above this counts for rouge_l_acc.")
