"""Training callbacks: what is logged when, and the whole run's loss from the logged rows."""

from __future__ import annotations

import pytest
from transformers import TrainerControl, TrainerState

from lorabench.training.callbacks import _LogAtCheckpoints, whole_run_loss


def test_checkpoint_and_last_steps_are_always_logged():
    schedule = _LogAtCheckpoints()
    state, control = TrainerState(max_steps=1000), TrainerControl()
    control.should_save = True
    schedule.on_step_end(None, state, control)
    assert control.should_log
    control = TrainerControl(should_training_stop=True)
    schedule.on_step_end(None, state, control)
    assert control.should_log
    control = TrainerControl(should_save=True)
    schedule.on_epoch_end(None, state, control)
    assert control.should_log
    control = TrainerControl()
    schedule.on_step_end(None, state, control)
    assert not control.should_log


def test_whole_run_loss_weighs_each_logged_mean_by_its_steps():
    # Logged at steps 1, 4 (mean of 2-4) and, after a resume from step 4, at 10 (mean of 5-10).
    history = [{"loss": 3.0, "step": 1}, {"loss": 2.0, "step": 4}, {"eval_loss": 9.0, "step": 4},
               {"loss": 1.0, "step": 10}]
    assert whole_run_loss(history) == pytest.approx((3 + 2 * 3 + 1 * 6) / 10)
    assert whole_run_loss(history, resumed_at=4) == pytest.approx((3 + 2 * 3 + 1 * 6) / 10)
    # A checkpoint at step 6 that no row logged: steps 5-6 are unknown, so they are left out.
    assert whole_run_loss(history[:3] + [{"loss": 1.0, "step": 10}], resumed_at=6) == pytest.approx((3 + 6 + 4) / 8)
    assert whole_run_loss([]) is None
