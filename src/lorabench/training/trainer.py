"""transformers' Trainer with lorabench's loss, and a loud stop on a non-finite loss."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from transformers import Trainer

from lorabench.training.examples import LengthGroupedEpochSampler
from lorabench.training.loss import AnswerOnlyHead

class _NonFiniteLoss(Exception):
    def __init__(self, value: float, step: int) -> None:
        super().__init__(f"loss {value} at step {step}")
        self.value = value
        self.step = step


# ---- Trainer ------------------------------------------------------------------------------------


class _LoraTrainer(Trainer):
    """Trainer with the answer-only loss, a seeded length-grouped order, a non-finite-loss stop and
    the task metric added to each evaluation."""

    def __init__(
        self,
        *args: Any,
        answer_only: AnswerOnlyHead | None,
        lengths: list[int],
        val_metric: Callable[[Any], float] | None,
        metric_name: str | None,
        totals: "_RunTotals",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.answer_only = answer_only
        self.lengths = lengths
        self.val_metric = val_metric
        self.metric_name = metric_name
        self.totals = totals

    def _get_train_sampler(self, train_dataset: Any = None) -> LengthGroupedEpochSampler:
        # Every process draws this same order and accelerate deals it out a batch at a time, process by
        # process, so one optimizer step takes its next batch x grad_accum x world_size indices. Grouping
        # by that global batch makes each step's examples independent of how they are split over
        # processes and accumulation: 2 processes at batch B train as 1 process at batch 2B.
        args = self.args
        group = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        return LengthGroupedEpochSampler(self.lengths, group, args.seed)

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, torch.Tensor],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> Any:
        if self.answer_only is None:
            loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        else:
            loss, outputs = self.answer_only.loss(model, inputs, num_items_in_batch)
            # The same rescaling Trainer.compute_loss applies to a loss normalised over all devices' tokens.
            summed = self.model_accepts_loss_kwargs and num_items_in_batch is not None
            if summed and self.args.average_tokens_across_devices:
                scale = self.accelerator.num_processes // self.get_tp_size()
                loss = loss * (scale if self.args.n_gpu <= 1 else self.args.n_gpu)
        if model.training:
            self._stop_if_not_finite(loss)
        return (loss, outputs) if return_outputs else loss

    def _stop_if_not_finite(self, loss: torch.Tensor) -> None:
        """Raise before backward, so no NaN reaches the weights or a checkpoint."""
        bad = (~torch.isfinite(loss.detach())).float().reshape(1)
        if self.args.world_size > 1:
            bad = self.accelerator.reduce(bad, reduction="sum")  # every rank stops together
        if bad.item() > 0:
            raise _NonFiniteLoss(float(loss.detach().float().mean()), self.state.global_step + 1)

    def evaluate(self, *args: Any, **kwargs: Any) -> dict[str, float]:
        started = time.perf_counter()
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.totals.eval_seconds += time.perf_counter() - started

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "train_loss" in logs:
            # Trainer's end-of-training summary covers only this session's steps and time; after a resume
            # that is a fraction of the run. Report the whole run's instead, and keep them for the result.
            figures = self.totals.finish(self.state)
            logs = {
                **logs, "train_loss": figures["train_loss"], "train_runtime": figures["train_seconds"],
                "train_tokens_per_second": figures["tokens_per_second"],
            }
        super().log(logs, start_time)

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        output = super().evaluation_loop(dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix)
        if self.val_metric is not None:
            # Added here, before Trainer logs the metrics and hands them to early stopping and best-model tracking.
            model = self.accelerator.unwrap_model(self.model)
            output.metrics[f"{metric_key_prefix}_{self.metric_name}"] = self.val_metric(model)
        return output
