"""The interface every tracker backend implements, and how a backend is found by name.

A backend is one module (to_mlflow, to_wandb, to_trackio, to_tensorboard) with one `Backend` class.
One whose Trainer session outlives training (W&B's, started before training and kept open for the
results) also has `end_trainer_session(run_id, failed)`.
Its client library is imported only when the backend is used, so lorabench runs without any of
them installed, and a missing one is a clear line naming the extra to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lorabench.config.tracking import TrackingSettings
from lorabench.core.errors import LorabenchError
from lorabench.tracking.record import TrackedRun

# name -> (module, the client library it needs)
MODULES = {
    "mlflow": ("lorabench.tracking.to_mlflow", "mlflow"),
    "wandb": ("lorabench.tracking.to_wandb", "wandb"),
    "trackio": ("lorabench.tracking.to_trackio", "trackio"),
    "tensorboard": ("lorabench.tracking.to_tensorboard", "tensorboard"),
}


@dataclass(frozen=True)
class Place:
    """Where a run goes: its project, and its parent (a study's tracker run) when it is a study's cell."""

    settings: TrackingSettings
    parent_id: str | None = None  # the parent's id in this backend
    group: str | None = None  # the study's name (W&B group, Trackio project suffix, TensorBoard folder)


@dataclass(frozen=True)
class TrainerRoute:
    """What transformers' callback for a tracker reads to log into a given tracker run: environment
    variables, TrainingArguments fields (set on the Trainer's arguments, never on the settings the
    adapter's fingerprint is made of), and a session to start before training that the callback
    then logs into (W&B's)."""

    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)
    start: Callable[[], None] | None = None


class Backend(Protocol):
    name: str

    def new_id(self, run: TrackedRun, place: Place) -> str:
        """An id for a tracker run not made yet (made here when the tracker assigns ids itself)."""
        ...

    def send(self, run: TrackedRun, place: Place, run_id: str) -> str:
        """Log `run` into the tracker run `run_id` (made or resumed); returns where it can be seen."""
        ...

    def trainer_route(self, place: Place, run_id: str) -> TrainerRoute:
        """How the Trainer's own `report_to` callback for this tracker logs into `run_id` while the
        adapter trains (`place.settings.run_name` is the run's resolved name)."""
        ...


def check_backends(names: list[str]) -> dict[str, Backend]:
    """The backends `names` names, by name; refused before a run starts when one is unknown or its
    client library is missing (naming the extra)."""
    found = {}
    for name in names:
        if name not in MODULES:
            raise LorabenchError.about("tracking.backends", f"{name!r} is not a tracker; choose from {', '.join(MODULES)}")
        found[name] = backend(name)
    return found


def backend(name: str) -> Backend:
    """The backend called `name`, its client library imported (refused, naming the extra, without it)."""
    module_name, library = MODULES[name]
    try:
        importlib.import_module(library)
    except ImportError:
        raise LorabenchError.about(
            "tracking.backends", f"{name} needs its client library; pip install 'lorabench[{name}]'"
        ) from None
    return importlib.import_module(module_name).Backend()
