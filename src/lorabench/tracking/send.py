"""Send a finished run (or a whole study) to the trackers, once, into the same tracker run every time.

The tracker run's id is kept in the folder's TRACKING_FILE as soon as it exists, before anything
is logged into it: a run resumed after a crash, or a folder sent again with `lorabench track`, goes
to the same tracker run, and a run already sent is never sent twice. The file holds ids only, never
a location or a credential. A tracker that fails (down, refused, misconfigured) costs one warning
line: the run folder keeps everything, to be sent later.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorabench.config.tracking import TrackingSettings
from lorabench.core.errors import LorabenchError
from lorabench.core.notices import Say, log, warn
from lorabench.results.outcomes import TrackOutcome
from lorabench.runs.folder import write_json
from lorabench.runs.lock import hold_folder
from lorabench.tracking.base import MODULES, Backend, Place, check_backends
from lorabench.tracking.record import TrackedRun, read_folder, read_run, read_study, study_cells

TRACKING_FILE = "tracking.json"
SETTINGS = "settings"  # the key of TRACKING_FILE that holds the settings, beside one per backend
# Set on a backend's entry once the Trainer's own callback logged its curves into that tracker run
# (training.report_to): lorabench's copy of them from the training log is then not sent there.
TRAINER_CURVES = "trainer_curves"


@dataclass(frozen=True)
class RunTracking:
    """A run's trackers, resolved once as the run starts: the folder that keeps its tracker runs'
    ids, its settings, its backends (their client libraries imported), the tracker run's name, and
    its place under a study (the study's group, and the study's tracker runs as parents), and the
    ids of its tracker runs, read from the folder once (a resumed run's) and kept current as
    `begin_tracking` opens them, so routing the Trainer, closing its sessions and finishing need
    not read the folder again. `state` is the folder's TRACKING_FILE as `begin_tracking` read and
    wrote it, kept current as the Trainer's curves are marked in it (the run holds its folder: no
    one else writes the file meanwhile). Without backends, and on the processes of a launch that
    write no run files, it is inactive: beginning, routing the Trainer and finishing are then no-ops."""

    folder: Path
    settings: TrackingSettings
    name: str
    backends: dict[str, Backend] = field(default_factory=dict)
    group: str | None = None
    parents: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)  # by backend: the tracker runs open for this run
    state: dict[str, dict[str, Any]] = field(default_factory=dict)  # TRACKING_FILE, from `begin_tracking` on

    @property
    def active(self) -> bool:
        return bool(self.backends)

    @property
    def named(self) -> TrackingSettings:
        """The settings with the run's resolved name, as its tracker runs are made and sent."""
        return self.settings.model_copy(update={"run_name": self.name})


def run_tracking(folder: Path, settings: TrackingSettings, study: Path | None = None, main: bool = True) -> RunTracking:
    """The trackers of the run in `folder`, refused before any work when a backend's client library
    is missing (`study`: the study folder whose cell it is; `main`: False on the processes other
    than rank 0 of a launch, which send nothing)."""
    folder = Path(folder)
    name = run_name(folder, settings, study)
    if not main or not settings.backends:
        return RunTracking(folder, settings, name, group=group_of(study))
    run_ids = open_run_ids(folder)  # a resumed run's tracker runs, which it goes on logging into
    backends = check_backends(list(settings.backends))
    # The study's tracker runs are read only for a run that has tracker runs to place under them.
    parents = study_parents(study) if study is not None else {}
    return RunTracking(folder, settings, name, backends, group_of(study), parents, run_ids)


def saved_settings(folder: Path) -> TrackingSettings | None:
    saved = read_state(folder).get(SETTINGS)
    return TrackingSettings.model_validate(saved) if saved else None


def read_state(folder: Path) -> dict[str, dict[str, Any]]:
    """The folder's tracker runs by backend: {"mlflow": {"run_id": ..., "sent": true}, ...}."""
    path = Path(folder) / TRACKING_FILE
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise LorabenchError(f"{path}: not JSON; delete it to send this folder as new tracker runs") from None
    return found if isinstance(found, dict) else {}


def send_run(
    folder: Path, settings: TrackingSettings, backends: list[str] | None = None, say: Say = log,
    group: str | None = None, parents: dict[str, str] | None = None,
) -> list[TrackOutcome]:
    """Send a finished run (or eval) folder to `backends` (default: settings.backends), refused
    before anything is read when one's client library is missing. `group` and `parents` (parent
    run id by backend) place it under its study."""
    trackers = check_backends(backends or list(settings.backends))
    return _send_folder(Path(folder), trackers, settings, say, group, parents or {})


def _send_folder(
    folder: Path, trackers: dict[str, Backend], settings: TrackingSettings, say: Say, group: str | None,
    parents: dict[str, str],
) -> list[TrackOutcome]:
    run = read_folder(folder)  # an unfinished folder is refused before anything is written to it
    with hold_folder(folder, "folder"):
        return _send(run, trackers, settings, say, group, parents)


def send_study(folder: Path, settings: TrackingSettings, backends: list[str] | None = None, say: Say = log) -> list[TrackOutcome]:
    """A study's run (its settings and selection tables), then each finished cell as its child."""
    folder = Path(folder)
    study = read_study(folder)
    trackers = check_backends(backends or list(settings.backends))
    with hold_folder(folder, "folder"):
        outcomes = _send(study, trackers, settings, say, study.name, {})
        parents = study_parents(folder)
        cells = settings.model_copy(update={"run_name": None})  # each cell is named after its folder
        for cell in study_cells(folder):
            outcomes += _send_folder(cell, trackers, cells, say, study.name, parents)
    return outcomes


def open_run_ids(folder: Path) -> dict[str, str]:
    """The tracker run ids kept in a run or study folder, by backend: the runs opened for it."""
    return {name: entry["run_id"] for name, entry in read_state(folder).items() if name in MODULES and (entry or {}).get("run_id")}


def study_parents(folder: Path) -> dict[str, str]:
    """The study's own tracker run ids by backend: the parent of each of its cells' runs."""
    return open_run_ids(folder)


def begin_tracking(tracking: RunTracking, say: Say = log) -> None:
    """At a run's start (its folder held, its config checked): keep the settings, open the tracker
    runs, under the study's runs when it is a study's cell."""
    if not tracking.active:
        return
    tracking.run_ids.update(open_runs(tracking, say))


def finish_tracking(tracking: RunTracking, say: Say = log) -> list[TrackOutcome]:
    """At a run's end, while the run still holds its folder: its results into the tracker runs
    `begin_tracking` opened, through the backends found as it started (a tracker that failed then
    was said once, and is left to `lorabench track`)."""
    opened = {name: tracker for name, tracker in tracking.backends.items() if name in tracking.run_ids}
    if not opened:
        return []
    # The run wrote its summary.json just now, and holds the folder: it is read as a run folder,
    # and not taken again.
    return _send(read_run(tracking.folder), opened, tracking.named, say, tracking.group, tracking.parents)


def send_study_run(folder: Path, settings: TrackingSettings, say: Say = log) -> list[TrackOutcome]:
    """A study's own tracker run (its settings and tables), once its cells are done and its page written."""
    folder = Path(folder)
    study = read_study(folder)
    trackers = check_backends(list(settings.backends))
    with hold_folder(folder, "folder"):
        return _send(study, trackers, settings, say, study.name, {})


def group_of(study: Path | None) -> str | None:
    """The group a study's runs share in the trackers: the study folder's name."""
    return Path(study).name if study is not None else None


def run_name(folder: Path, settings: TrackingSettings, study: Path | None) -> str:
    """The tracker run's name for the run in `folder`."""
    # A study's cells are named after their folders: a configured run name names the study's run.
    return Path(folder).resolve().name if study is not None else settings.run_name or Path(folder).resolve().name


def open_runs(tracking: RunTracking, say: Say = log) -> dict[str, str]:
    """Make (or find, on a resumed run) the folder's tracker runs before the run's work starts, and
    keep their ids in the folder, so the results land in them whenever they are sent. The tracking
    settings are kept beside them first, so `lorabench track RUN` sends the run where it would have
    gone (they hold locations and names, never a secret). Returns the ids by backend; a tracker that
    fails is a warning and gets its run when the results are sent."""
    folder = tracking.folder
    # Read once, the folder held, and kept current in `tracking.state` as it is written.
    state = tracking.state
    state.update(read_state(folder))
    state[SETTINGS] = tracking.settings.model_dump(mode="json")
    write_json(folder / TRACKING_FILE, state)
    opened = {}
    for backend_name, tracker in tracking.backends.items():
        if (state.get(backend_name) or {}).get("run_id"):
            opened[backend_name] = state[backend_name]["run_id"]
            continue
        try:
            stub = TrackedRun(folder=folder, name=tracking.name, kind="run", params={}, metrics={}, labels={})
            run_id = tracker.new_id(stub, Place(tracking.settings, tracking.parents.get(backend_name), tracking.group))
        except Exception as error:  # noqa: BLE001 - a tracker's failure must never cost the run
            say(warn(f"tracking: {backend_name} failed ({failure_reason(error)}); the run goes on without it: send it "
                     f"later with `lorabench track {folder} --backend {backend_name}`"))
            continue
        state[backend_name] = {**(state.get(backend_name) or {}), "run_id": run_id, "sent": False}
        write_json(folder / TRACKING_FILE, state)  # kept before anything is logged into it
        opened[backend_name] = run_id
    return opened


def failure_reason(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _send(
    run: TrackedRun, trackers: dict[str, Backend], settings: TrackingSettings, say: Say, group: str | None,
    parents: dict[str, str],
) -> list[TrackOutcome]:
    outcomes = []
    for name, tracker in trackers.items():
        state = read_state(run.folder)
        entry = state.get(name) or {}
        if entry.get("sent"):
            say(f"tracking: {name}: {run.folder.name} was sent before (run {entry['run_id']}); not sent again")
            outcomes.append(TrackOutcome(folder=run.folder, backend=name, state="already sent", run_id=entry["run_id"]))
            continue
        run_id = entry.get("run_id")
        # The Trainer's curves are in the tracker run already, under its names: not a second copy.
        content = dataclasses.replace(run, curves=[]) if entry.get(TRAINER_CURVES) else run
        try:
            place = Place(settings, parents.get(name), group)
            if run_id is None:
                run_id = tracker.new_id(run, place)
                _record(run.folder, state, name, run_id, sent=False)
            where = tracker.send(content, place, run_id)
        except Exception as error:  # noqa: BLE001 - a tracker's failure must never cost the run
            reason = failure_reason(error)
            say(warn(f"tracking: {name} failed ({reason}); nothing is lost: "
                     f"send it later with `lorabench track {run.folder} --backend {name}`"))
            outcomes.append(TrackOutcome(folder=run.folder, backend=name, state="failed", run_id=run_id, error=reason))
            continue
        _record(run.folder, read_state(run.folder), name, run_id, sent=True)
        say(f"tracking: {name}: {run.folder.name} sent ({where})")
        outcomes.append(TrackOutcome(folder=run.folder, backend=name, state="sent", run_id=run_id, where=where))
    return outcomes


def _record(folder: Path, state: dict[str, dict[str, Any]], name: str, run_id: str, sent: bool) -> None:
    write_json(folder / TRACKING_FILE, {**state, name: {**(state.get(name) or {}), "run_id": run_id, "sent": sent}})
