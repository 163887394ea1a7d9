"""Trainer callbacks: the run's own time and token totals across resumes, logs at checkpoints, the JSON Lines log."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lorabench.runs.folder import write_json

logger = logging.getLogger(__name__)


LogHook = Callable[[dict[str, Any]], None]


PROGRESS_FILE = "lorabench_progress.json"  # in each checkpoint: the run's seconds and tokens up to it


def whole_run_loss(history: Sequence[dict[str, Any]], resumed_at: int = 0) -> float | None:
    """Mean per-step training loss from Trainer's log history (`state.log_history`, which a checkpoint
    carries across a resume): each logged `loss` is the mean of the steps since the previous log, so it
    is weighted by their number. A session resumed at step `resumed_at` logs its first loss over the
    steps after it; steps nobody logged are left out rather than guessed."""
    total, steps, previous = 0.0, 0, 0
    for entry in sorted((e for e in history if "loss" in e and "step" in e), key=lambda e: e["step"]):
        step = int(entry["step"])
        start = max(previous, resumed_at) if step > resumed_at else previous
        if step > start:
            total += float(entry["loss"]) * (step - start)
            steps += step - start
        previous = step
    return total / steps if steps else None


def _read_progress(checkpoint: str | None) -> dict[str, Any]:
    path = Path(checkpoint) / PROGRESS_FILE if checkpoint else None
    if path is None:
        return {}
    if not path.is_file():
        logger.warning(
            "%s has no %s: train_seconds and tokens/s will count only the resumed part", checkpoint, PROGRESS_FILE
        )
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


class _RunTotals(TrainerCallback):
    """The whole run's figures (mean loss, seconds, tokens/s), across an interruption and resume.

    Every checkpoint records the seconds and tokens up to it in PROGRESS_FILE; a resumed session
    starts from those, so a run cut at step N and resumed reports what one uninterrupted run would.
    The steps after the last checkpoint, trained twice, count once: `train_seconds` is the time the
    adapter took to make, each session counted up to its last checkpoint and the final one to its end.
    `train_seconds` is wall time including setup and validation; tokens/s excludes validation.
    """

    def __init__(self, resume_from: str | None) -> None:
        before = _read_progress(resume_from)
        self.resumed_at = _checkpoint_step(resume_from) if resume_from else 0
        self.seconds_before = float(before.get("train_seconds", 0.0))
        self.step_seconds_before = float(before.get("step_seconds", 0.0))
        self.tokens_before = int(before.get("tokens_seen", 0))  # the tokens step_seconds_before covers
        self.started = time.perf_counter()
        self.first_step: float | None = None
        self.tokens_at_first_step = 0
        self.eval_seconds = 0.0  # this session's validation time (added by _LoraTrainer.evaluate)
        self.final: dict[str, Any] | None = None

    def start(self) -> None:
        self.started = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # At the first step, not at train begin: setup and a resume's data skipping are not training.
        if self.first_step is None:
            self.first_step, self.tokens_at_first_step = time.perf_counter(), state.num_input_tokens_seen

    def _step_figures(self, state: Any) -> tuple[float, int]:
        """Seconds spent in training steps (validation excluded) and the tokens they saw, whole run."""
        if self.first_step is None:
            return self.step_seconds_before, self.tokens_before
        seconds = time.perf_counter() - self.first_step - self.eval_seconds
        return self.step_seconds_before + seconds, self.tokens_before + state.num_input_tokens_seen - self.tokens_at_first_step

    def figures(self, state: Any) -> dict[str, Any]:
        step_seconds, tokens = self._step_figures(state)
        return {
            "train_loss": whole_run_loss(state.log_history, self.resumed_at),
            "train_seconds": round(self.seconds_before + time.perf_counter() - self.started, 3),
            "tokens_per_second": round(tokens / step_seconds, 1) if step_seconds > 0 else 0.0,
        }

    def finish(self, state: Any) -> dict[str, Any]:
        """The figures at the end of training, kept so the log and the result report the same."""
        self.final = self.figures(state)
        return self.final

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            step_seconds, tokens = self._step_figures(state)
            progress = {
                "step": state.global_step,
                "train_seconds": self.seconds_before + time.perf_counter() - self.started,
                "step_seconds": step_seconds,
                "tokens_seen": tokens,
            }
            write_json(folder / PROGRESS_FILE, progress)


class _LogAtCheckpoints(TrainerCallback):
    """Logs the loss at every checkpoint and the last step too, so the logged losses cover every
    step: `whole_run_loss` then averages them exactly, also across a resume from any checkpoint."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_save or control.should_training_stop:
            control.should_log = True

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if control.should_save:
            control.should_log = True


class _JsonlLog(TrainerCallback):
    """Appends one JSON object per Trainer log event to `path` (main process only) and passes it on."""

    def __init__(self, path: Path, on_log: LogHook | None, metric_name: str | None) -> None:
        self.path = path
        self.hook = on_log  # not `on_log`: that name is the callback method itself
        self.metric_name = metric_name
        self.val_metrics: list[float] = []
        self._mark_time = time.perf_counter()
        self._mark_tokens = 0
        self._stepping = False

    def _mark(self, state: Any) -> None:
        self._mark_time = time.perf_counter()
        self._mark_tokens = state.num_input_tokens_seen

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # At the first step: a resumed state starts from the checkpoint's token count, and setup and
        # data skipping are not training.
        if not self._stepping:
            self._stepping = True
            self._mark(state)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._mark(state)  # validation time is not training throughput

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        row = self._row(state, logs or {})
        if self.metric_name and f"val_{self.metric_name}" in row:
            self.val_metrics.append(row[f"val_{self.metric_name}"])
        if not state.is_world_process_zero:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        if self.hook is not None:
            self.hook(row)

    def _row(self, state: Any, logs: dict[str, float]) -> dict[str, Any]:
        row: dict[str, Any] = {"step": state.global_step, "epoch": round(float(state.epoch or 0.0), 4)}
        if "loss" in logs:
            now, tokens = time.perf_counter(), state.num_input_tokens_seen
            row["loss"] = logs["loss"]
            row["lr"] = logs.get("learning_rate")
            if "grad_norm" in logs:
                row["grad_norm"] = logs["grad_norm"]
            row["tokens_seen"] = tokens
            row["tokens_per_second"] = round((tokens - self._mark_tokens) / max(now - self._mark_time, 1e-9), 1)
            self._mark_time, self._mark_tokens = now, tokens
        for key, value in logs.items():
            if key.startswith("eval_") and key.removeprefix("eval_") in ("loss", self.metric_name):
                row["val_" + key.removeprefix("eval_")] = value
        if "train_loss" in logs:  # the whole run's summary, once training ends (see _LoraTrainer.log)
            row["train_loss"] = logs["train_loss"]
            row["train_runtime"] = logs.get("train_runtime")
            row["train_tokens_per_second"] = logs.get("train_tokens_per_second")
        return row


def _prepare_log(log_path: Path, resume_step: int | None, metric_name: str | None, write: bool = True) -> list[float]:
    """Start a fresh log, or on resume cut the old one back to the checkpoint's step (the steps after
    it are trained, and logged, again) and drop the interrupted session's end-of-training summary (the
    run goes on; its own summary comes at its end). Returns the validation metrics already logged.
    `write=False` (data-parallel processes other than the main one) only reads."""
    rows = []
    if resume_step is not None and log_path.is_file():
        lines = log_path.read_text(encoding="utf-8").splitlines()
        rows = [
            row for row in map(json.loads, filter(str.strip, lines))
            if row.get("step", 0) <= resume_step and "train_loss" not in row
        ]
    if write:
        log_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return [row[f"val_{metric_name}"] for row in rows if f"val_{metric_name}" in row]


def _checkpoint_step(checkpoint: str) -> int:
    return int(Path(checkpoint).name.rsplit("-", 1)[-1])
