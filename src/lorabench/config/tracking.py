"""The `tracking:` section: which experiment trackers a finished run is sent to, and where they are.

Only locations and names live here. Credentials never do: each tool reads its own environment
variables (MLFLOW_TRACKING_USERNAME / _PASSWORD / _TOKEN, WANDB_API_KEY, HF_TOKEN for Trackio on a
Space), so nothing secret is written to a config.yaml in a run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

Backend = Literal["mlflow", "wandb", "trackio", "tensorboard"]
BACKENDS: tuple[str, ...] = ("mlflow", "wandb", "trackio", "tensorboard")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MlflowSettings(_Section):
    tracking_uri: str | None = Field(
        None, description="An MLflow tracking URI (sqlite:///mlruns.db, http://host:5000, a folder); "
        "default: MLFLOW_TRACKING_URI, else MLflow's own default.",
    )
    experiment: str | None = Field(None, description="The MLflow experiment; default: tracking.project.")

    @field_validator("tracking_uri")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value and "://" in value and urlsplit(value).password is not None:
            raise ValueError("holds a password; give it in MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN), "
                             "which lorabench never writes down")
        return value


class WandbSettings(_Section):
    entity: str | None = Field(None, description="The W&B team or user; default: WANDB_ENTITY, else your default entity.")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="online, offline (files to `wandb sync` later) or disabled; default: WANDB_MODE, else online."
    )
    dir: Path | None = Field(None, description="Where W&B keeps its local files; default: WANDB_DIR, else ./wandb.")


class TrackioSettings(_Section):
    space_id: str | None = Field(
        None, description="A Hugging Face Space to log to; default: TRACKIO_SPACE_ID, else the local store "
        "(TRACKIO_DIR, else Trackio's cache folder).",
    )


class TensorboardSettings(_Section):
    log_dir: Path | None = Field(
        None, description="The TensorBoard log folder; each run writes <log_dir>/<project>/<run name>. "
        "Default: the run folder's tensorboard/ (a study's cells: the study folder's tensorboard/).",
    )


class TrackingSettings(_Section):
    """Where a run's results go besides its folder (`lorabench run --track mlflow`)."""

    backends: list[Backend] = Field(
        default_factory=list, description="Trackers to send the finished run to: mlflow, wandb, trackio, tensorboard."
    )
    project: str = Field("lorabench", min_length=1, description="The project (MLflow experiment, W&B / Trackio "
                         "project; a study's Trackio project is <project>-<study folder name>).")
    run_name: str | None = Field(None, description="The tracker run's name; default: the run folder's name.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags set on the tracker run.")
    mlflow: MlflowSettings = Field(default_factory=MlflowSettings)
    wandb: WandbSettings = Field(default_factory=WandbSettings)
    trackio: TrackioSettings = Field(default_factory=TrackioSettings)
    tensorboard: TensorboardSettings = Field(default_factory=TensorboardSettings)

    @field_validator("backends")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))
