"""`lorabench study CONFIG`: run every grid point that is not finished, then rebuild the tables.

Each point is an ordinary `lorabench run` folder under <out>/runs/, so it resumes stage by stage;
a point whose summary exists for the same settings is not touched at all. Base evaluations are
shared: points that differ only in training size or seed evaluate the same base model on the same
items with the same prompts, so the first one's base/ folder is copied to the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import yaml

from lorabench.comparison.items import PRIMARY_METRIC
from lorabench.core.notices import Say, alarm, log
from lorabench.pipeline.run import ProgressFactory
from lorabench.runs.folder import write_atomic
from lorabench.runs.lock import hold_folder
from lorabench.studies.cells import PointStatus, base_eval_key, point_finished, preflight, run_point
from lorabench.studies.grid import GridPoint, Study
from lorabench.tracking.send import begin_tracking, run_tracking


def run_study(
    study: Study,
    force: bool = False,
    say: Say = log,
    progress: ProgressFactory | None = None,
    on_train_log: Callable[[dict], None] | None = None,
    keep_going: bool = False,
    executor: str | None = None,
    ray_address: str | None = None,
) -> list[PointStatus]:
    """Run the missing grid points: in order in this process, or as parallel Ray tasks (`executor`,
    else sweep.executor). With `keep_going`, a failed point is recorded and the study moves on (its
    error is in the status list); otherwise the first failure stops the study. The study's folder
    is held throughout (each cell's folder while the cell runs): a second study on it is refused."""
    preflight(study)
    with hold_folder(study.out, "out"):
        return _run_held(study, force, say, progress, on_train_log, keep_going, executor, ray_address)


def _run_held(
    study: Study, force: bool, say: Say, progress: ProgressFactory | None, on_train_log: Callable[[dict], None] | None,
    keep_going: bool, executor: str | None, ray_address: str | None,
) -> list[PointStatus]:
    study.out.mkdir(parents=True, exist_ok=True)
    write_atomic(study.out / "study.yaml", yaml.safe_dump(
        {**study.base.model_dump(mode="json"), "sweep": study.sweep.model_dump(mode="json")}, sort_keys=False, allow_unicode=True))
    if study.base.tracking.backends:  # the study's own tracker runs: the parents of its cells' runs
        begin_tracking(run_tracking(study.out, study.base.tracking), say)
    if (executor or study.sweep.executor) == "ray":
        from lorabench.studies.ray_executor import run_on_ray

        return run_on_ray(study, force, say, keep_going, ray_address or study.sweep.ray_address)
    statuses = []
    for index, point in enumerate(study.points, start=1):
        if not force and point_finished(study, point):
            say(f"[{index}/{len(study.points)}] {point.name}: finished earlier, kept")
            statuses.append(PointStatus(point, "done", 0.0))
            continue
        say(f"[{index}/{len(study.points)}] {point.name}")
        started = time.perf_counter()
        try:
            run_point(study, point, force, say, progress, on_train_log)
        except Exception as error:  # noqa: BLE001 - recorded per point when keep_going, re-raised otherwise
            if not keep_going:
                raise
            say(alarm(f"{point.name} failed: {error}"))
            statuses.append(PointStatus(point, "failed", time.perf_counter() - started, str(error)))
            continue
        statuses.append(PointStatus(point, "ran", time.perf_counter() - started))
    return statuses


def plan_lines(study: Study) -> list[str]:
    """`study --plan`: every run, whether it is finished, and what it shares with other runs."""
    cells = list(dict.fromkeys(p.cell for p in study.points))
    seeds = len(study.sweep.seeds or [0])
    head = f"{len(study.points)} runs: {len(cells)} cell(s) x {seeds} seed(s), all scored on the same test items"
    if study.sweep.search == "random":
        head += f"; random search: {len(cells)} of {study.grid_size // seeds} combinations (search_seed {study.sweep.search_seed})"
    lines = [head]
    first_of: dict[str, GridPoint] = {}
    for point in study.points:
        first_of.setdefault(base_eval_key(point.config), point)
    sharing: dict[str, int] = {}
    for point in study.points:
        key = first_of[base_eval_key(point.config)].name
        sharing[key] = sharing.get(key, 0) + 1
    for point in study.points:
        state = "finished" if point_finished(study, point) else "to run"
        leader = first_of[base_eval_key(point.config)]
        if leader is not point:
            shares = f"base evaluation shared with {leader.name}"
        elif sharing[point.name] > 1:
            shares = f"base evaluation made here, shared with {sharing[point.name] - 1} other run(s)"
        else:
            shares = "base evaluation of its own"
        lines.append(f"{point.name}: {state} -> {point.config.out}; {shares}")
    if study.chooses:
        metric = PRIMARY_METRIC[study.base.task]
        lines.append(f"choice: the cell with the best mean validation {metric} over its seeds; its test comparison with "
                     "the base model is the headline, every other test comparison is exploratory (Holm-adjusted)")
    return lines
