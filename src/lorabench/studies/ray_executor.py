"""`lorabench study --executor ray`: a study's runs as parallel Ray tasks.

Each run is the same resumable run folder the sequential executor makes, written by a Ray worker
on the same file system (a local Ray, or a cluster whose nodes share it: `--ray-address auto`).
Ray reserves `sweep.resources` per run and starts no more runs than fit, so a 2-core machine with
`cpus: 1` runs two at a time, each with one torch thread.

Base evaluations stay shared: runs that would evaluate the same base model on the same items with
the same prompts wait for one base-only task and copy its result, as the sequential study copies
the first finished one. An interrupted study resumes like a sequential one: finished runs are kept,
unfinished ones go on from their last finished stage.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.core.notices import alarm, warn
from lorabench.studies.grid import GridPoint, Study
from lorabench.core.notices import Say
from lorabench.studies.cells import PointStatus, base_eval_key, evaluate_base, point_finished, run_point


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise LorabenchError(Message(Hint("executor", "ray"), ": Ray is not installed; pip install 'lorabench[ray]'")) from None
    return ray


def _worker_say(name: str) -> Say:
    # The library's messages are plain text, so a worker's output is forwarded as it is, named.
    return lambda message: print(message if message.startswith(name) else f"{name}: {message}", flush=True)


def _in_worker(work: str, study: Study, name: str, force: bool, cwd: str) -> dict[str, Any]:
    """What a Ray task runs: one point's run (`work` = "run") or its shared base evaluation ("base").
    Failures come back as values, so the driver decides whether the study goes on."""
    os.chdir(cwd)  # the study's relative paths (data, out) mean what they mean for the driver
    # Progress bars forwarded line by line from several workers are noise in the driver's output.
    os.environ.setdefault("TQDM_DISABLE", "1")
    point = next(p for p in study.points if p.name == name)
    say = _worker_say(name)
    started = time.perf_counter()
    try:
        if work == "base":
            evaluate_base(point, say)
        else:
            run_point(study, point, force, say, None, None)
    except Exception as error:  # noqa: BLE001 - returned to the driver, which records or raises it
        if not isinstance(error, LorabenchError):
            traceback.print_exc()  # a bug: the worker's output keeps its traceback
        return {"state": "failed", "seconds": time.perf_counter() - started, "error": str(error) or type(error).__name__,
                "user_error": isinstance(error, LorabenchError)}
    return {"state": "ran", "seconds": time.perf_counter() - started}


@dataclass
class _Plan:
    """Which points run, which base evaluations run first, and who waits for which."""

    to_run: list[GridPoint]
    base_first: dict[str, list[GridPoint]]  # base-task point name -> the points that wait for it


def plan_tasks(study: Study, force: bool) -> _Plan:
    """One base-only task for each group of unfinished points that would share a base evaluation
    that no point has finished yet; every other point starts at once."""
    to_run = [p for p in study.points if force or not point_finished(study, p)]
    base_first: dict[str, list[GridPoint]] = {}
    if force:  # every run redoes its own base evaluation, as the sequential executor does
        return _Plan(to_run, base_first)
    groups: dict[str, list[GridPoint]] = {}
    for point in to_run:
        groups.setdefault(base_eval_key(point.config), []).append(point)
    done = {base_eval_key(p.config) for p in study.points if (Path(p.config.out) / "base" / "metrics.json").exists()}
    for key, members in groups.items():
        if len(members) > 1 and key not in done:
            base_first[members[0].name] = members
    return _Plan(to_run, base_first)


def run_on_ray(study: Study, force: bool, say: Say, keep_going: bool, address: str | None) -> list[PointStatus]:
    """Run the unfinished points as Ray tasks; statuses come back in grid order."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        # address None starts a local Ray for this study; "auto" or host:port joins a running one.
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=True)
    try:
        return _run(ray, study, force, say, keep_going)
    finally:
        if started_here:
            ray.shutdown()


def _run(ray: Any, study: Study, force: bool, say: Say, keep_going: bool) -> list[PointStatus]:
    resources = study.sweep.resources
    gpus = resources.gpus if resources.gpus is not None else (1 if ray.cluster_resources().get("GPU", 0) > 0 else 0)
    task = ray.remote(_in_worker).options(num_cpus=resources.cpus, num_gpus=gpus, max_retries=0)
    plan = plan_tasks(study, force)
    cwd = str(Path.cwd())
    study_ref = ray.put(study)
    say(f"ray: {len(plan.to_run)} of {len(study.points)} runs to do, {resources.cpus:g} CPU and {gpus:g} GPU each, "
        f"on a cluster of {ray.cluster_resources().get('CPU', 0):g} CPUs and {ray.cluster_resources().get('GPU', 0):g} GPUs")
    waiting = {p.name for members in plan.base_first.values() for p in members}
    pending: dict[Any, tuple[str, GridPoint]] = {}
    for name, members in plan.base_first.items():
        pending[task.remote("base", study_ref, name, force, cwd)] = ("base", next(p for p in members if p.name == name))
    for point in plan.to_run:
        if point.name not in waiting:
            pending[task.remote("run", study_ref, point.name, force, cwd)] = ("run", point)
    results: dict[str, PointStatus] = {}
    try:
        while pending:
            [ready], _ = ray.wait(list(pending), num_returns=1)
            work, point = pending.pop(ready)
            outcome = ray.get(ready)
            if work == "base":
                # The waiting runs start now; a failed base evaluation is redone (and reported) by each.
                for member in plan.base_first[point.name]:
                    pending[task.remote("run", study_ref, member.name, force, cwd)] = ("run", member)
                continue
            status = PointStatus(point, outcome["state"], outcome["seconds"], outcome.get("error"))
            results[point.name] = status
            if status.state == "failed":
                say(alarm(f"{point.name} failed: {status.error}"))
                if not keep_going:
                    raise (LorabenchError if outcome["user_error"] else RuntimeError)(f"{point.name}: {status.error}")
            else:
                say(f"{point.name}: finished on Ray in {status.seconds:.0f} s ({len(results)} of {len(plan.to_run)} runs)")
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        if pending:
            # Until a cancelled task's worker is gone it still holds its cell's folder (runs.lock): a
            # study rerun at once would find those cells busy.
            ray.wait(list(pending), num_returns=len(pending), timeout=60)
            say(warn(f"stopped: {len(pending)} Ray task(s) cancelled; rerun the study to resume them"))
        raise
    return [results.get(p.name) or PointStatus(p, "done", 0.0) for p in study.points]
