"""A run's data, in memory: loaded, split (group-aware), trimmed to the configured sizes,
fingerprinted, and checked for leakage and template mistakes before anything is written, so a
mistake found here leaves no run folder behind; then saved into the run folder as the run's first
files."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lorabench.config.prompt import PromptSettings
from lorabench.config.run import RunConfig
from lorabench.core.errors import LorabenchError
from lorabench.core.kinds import Task, get_task
from lorabench.core.notices import Say, alarm, warn
from lorabench.data.leakage import check_leakage, ensure_no_leakage
from lorabench.data.loaders import LoadResult, load_task_records
from lorabench.data.records import Record, SplitDigests, save_task_records, split_digests
from lorabench.data.splits import split_three_ways
from lorabench.prompts.template import check_templates
from lorabench.prompts.few_shot import draw_shots
from lorabench.runs.folder import write_json
from lorabench.training.validation import validation_caveat


@dataclass
class DataSplits:
    train: list[Record]
    validation: list[Record]
    test: list[Record]
    leakage: dict[str, Any]
    task: Task  # the run's Task, looked up once when the data is split, for every stage after
    digests: SplitDigests  # the splits' fingerprints, made once here for every stage that names its items
    validation_from: str = ""  # where the validation items came from, for the data line and summary.json
    validation_warning: str | None = None  # set when validation is too small to steer training
    # The config's prompt settings with their few-shot examples drawn from this training split.
    prompt: PromptSettings = field(default_factory=PromptSettings)


def split_data(config: RunConfig, say: Say) -> DataSplits:
    """Load, split (group-aware), trim to the configured sizes, fingerprint and check leakage, in
    memory only: a mistake found here leaves no run folder behind."""
    data = config.data
    task = get_task(config.task)  # looked up once, for the split and every stage after it (DataSplits.task)
    # Each file the data section names (a source, or train and test), read with the run's Task and
    # summed up as it is read; a validation file is named in the data line below instead.
    files = [("source", data.source), ("train", data.train), ("test", data.test), ("validation", data.validation)]
    loads: dict[str, LoadResult] = {}
    for name, spec in files:
        if spec is not None:
            loads[name] = load_task_records(task, spec)
            if name != "validation":
                say(loads[name].summary())
    if data.source is not None:
        pool, test_share, given_test, cut = loads["source"].records, data.split.test, None, "split from the source"
    else:
        pool, test_share, given_test, cut = loads["train"].records, 0, loads["test"].records, "taken from train"
    validation_load = loads.get("validation")
    # One cut for both layouts: test and validation out of a source; out of a training file validation
    # alone (test 0), or nothing when a file gives validation too.
    validation_share = 0 if validation_load is not None else data.split.validation
    train, validation, test = split_three_ways(pool, test_share, validation_share, data.split.seed)
    if given_test is not None:
        test = given_test
    if validation_load is not None:
        validation, validation_from = validation_load.records, f"from data.validation {validation_load.source}"
    elif data.split.validation:
        validation_from = f"{cut} by split.validation={data.split.validation}"
    else:
        validation_from = "none: split.validation is 0"
    prompt, shots = draw_shots(config.prompt, train, task)
    if data.train_size:
        if data.train_size > len(train):
            raise LorabenchError(
                f"data.train_size: {data.train_size} asks for more than the {len(train)} training items there are"
            )
        train = train[: data.train_size]
    if data.test_size:
        test = test[: data.test_size]
    if not test:
        raise LorabenchError("data.split.test: the test split is empty; give more data or a larger data.split.test")
    # The splits are final here: fingerprinted once, for every stage that names its items.
    digests = split_digests(task, train, validation, test, prompt.uses_templates)

    # The few-shot examples are training data in every prompt, so they are checked against test too.
    checks = {"train_vs_test": (check_leakage(train, test), "train vs test"),
              "validation_vs_test": (check_leakage(validation, test), "validation vs test")}
    if prompt.few_shot is not None:
        checks["few_shot_vs_test"] = (check_leakage(shots, test), "few-shot examples vs test")
    leakage = {key: report.to_dict() for key, (report, _) in checks.items()}
    for report, what in checks.values():
        if report.id_collisions:
            say(warn(f"{what}: {report.id_collision_warning()}"))
        if report.has_leakage:
            say((warn if data.allow_leakage else alarm)(f"{what}: {report.summary()}"))
        ensure_no_leakage(report, allow=data.allow_leakage, what=what)
    for records in (train, validation, test):
        check_templates(records, prompt, task)
    sizes = f"train {len(train)}, validation {len(validation)} ({validation_from}), test {len(test)}"
    leaked = any(report.has_leakage for report, _ in checks.values())
    say(f"data: {sizes}; leakage allowed by config" if leaked else f"data: {sizes}; leakage check clean")
    caveat = validation_caveat(len(validation), config.task, config.training, config.metrics.alpha)
    if caveat:
        say(warn(caveat))
    return DataSplits(train, validation, test, leakage, task, digests, validation_from, caveat, prompt)


def save_splits(splits: DataSplits, out: Path) -> None:
    write_json(out / "data" / "leakage.json", splits.leakage)
    for name, records in (("train", splits.train), ("validation", splits.validation), ("test", splits.test)):
        save_task_records(splits.task, records, out / "data" / f"{name}.jsonl")
