"""`train_adapter` end to end on tiny models: learning, logs, saved files, resume, and failure modes."""

from __future__ import annotations

import json
import time
import warnings

import pytest
import torch
from pydantic import ValidationError
from safetensors.torch import load_file
from transformers import TrainerCallback

from lorabench.core.errors import LorabenchError
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter
from lorabench.training.arguments import total_steps

PROMPT = PromptSettings(max_prompt_tokens=128)
DECODING = DecodingSettings(max_new_tokens=4, batch_size=4)
# Linear layers plus the head: in a random tiny model the frozen tied head caps logits near uniform,
# so only an adapted head lets the loss fall far.
WITH_HEAD = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft/transformers deprecation chatter
        yield


def _load(path):
    return load_model(ModelSpec(name=str(path)))


def _train(loaded, train, val, out, lora=None, merge=False, resume=False, callbacks=(), on_log=None, **training):
    settings = {"max_steps": 4, "batch_size": 2, "logging_steps": 1, "val_metric_items": 0, "save_every": 1000}
    return train_adapter(
        loaded, train, val, out, PROMPT, lora or LoraSettings(), TrainSettings(**{**settings, **training}),
        DECODING, ScoreSettings(), resume=resume, merge=merge, on_log=on_log, callbacks=callbacks,
    )


class _Snapshots(TrainerCallback):
    """State dicts of the model being trained, at the start and the end of training."""

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.before = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.after = {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def trained(tiny_causal_path, records, tmp_path_factory):
    """One run with validation every 2 steps, a merge, and a record of what was logged."""
    loaded = _load(tiny_causal_path)
    rows, snapshots = [], _Snapshots()
    result = _train(
        loaded, records[:8], records[8:], tmp_path_factory.mktemp("run"), merge=True, callbacks=[snapshots],
        on_log=rows.append, eval_every=2, save_every=2, val_metric_items=2,
    )
    return loaded, result, rows, snapshots


def test_adapter_weights_change_and_base_weights_do_not(trained, tiny_causal_path):
    loaded, _, _, snap = trained
    lora = [k for k in snap.before if "lora_" in k]
    assert lora and all(not torch.equal(snap.before[k], snap.after[k]) for k in lora if "lora_B" in k)
    assert all(torch.equal(snap.before[k], snap.after[k]) for k in snap.before if "lora_" not in k)
    # and the caller's model is handed back as the untouched base
    fresh = _load(tiny_causal_path).model.state_dict()
    assert not any("lora" in name for name, _ in loaded.model.named_modules())
    assert all(torch.equal(fresh[k], v) for k, v in loaded.model.state_dict().items())


def test_log_rows_are_written_as_they_go_and_passed_to_on_log(trained):
    _, result, rows, _ = trained
    logged = [json.loads(line) for line in result.log_path.read_text().splitlines()]
    assert logged == rows
    steps = [r for r in logged if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all(r["tokens_per_second"] > 0 and r["lr"] is not None and "epoch" in r for r in steps)
    vals = [r for r in logged if "val_loss" in r]
    assert [r["step"] for r in vals] == [2, 4] and all("val_exact_match" in r for r in vals)
    assert result.best_val_metric == max(r["val_exact_match"] for r in vals)
    assert result.steps == 4 and result.tokens_per_second > 0 and not result.stopped_early


def test_adapter_folder_records_how_it_was_made(trained, tiny_causal_path):
    loaded, result, _, _ = trained
    assert (result.adapter_dir / "adapter_model.safetensors").is_file()
    meta = json.loads((result.adapter_dir / "lorabench.json").read_text())
    assert meta["task"] == "extractive"
    assert meta["prompt"] == PROMPT.model_dump(mode="json")
    assert meta["chat_template"]["used"] is True and len(meta["chat_template"]["sha256"]) == 64
    assert meta["lora"]["r"] == 16 and meta["training"]["max_steps"] == 4
    assert meta["base_model"]["path"] == loaded.describe()["path"]
    assert meta["data"] == {"train_items": 8, "val_items": 4}
    assert meta["max_prompt_tokens_used"] == 128  # 512-token window minus 4 new tokens leaves room for 128


def test_merged_model_gives_the_logits_of_base_plus_adapter(trained, tiny_causal_path):
    _, result, _, _ = trained
    with_adapter = load_model(ModelSpec(name=str(tiny_causal_path)), adapter=str(result.adapter_dir))
    merged = _load(result.merged_dir)
    ids = with_adapter.tokenizer("Question: Where did Velka grow up? Answer:", return_tensors="pt")
    with torch.no_grad():
        expected = with_adapter.model(**ids).logits
        got = merged.model(**ids).logits
    assert torch.allclose(expected, got, atol=1e-4)


def test_loss_falls_on_a_small_memorizable_set(tiny_causal_path, records, tmp_path):
    rows = []
    _train(
        _load(tiny_causal_path), records[:8], [], tmp_path, lora=LoraSettings(target_modules=WITH_HEAD),
        on_log=rows.append, max_steps=30, batch_size=4, lr=5e-3, logging_steps=5,
    )
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < 0.5 * losses[0]


class _StopAfterSave(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            control.should_training_stop = True


def test_resumed_run_reaches_the_same_adapter_as_an_uninterrupted_one(tiny_causal_path, records, tmp_path):
    # 4 steps per epoch: the cut at step 3 falls mid-epoch, and the run crosses an epoch boundary.
    common = {"max_steps": 6, "save_every": 3, "lora": LoraSettings(dropout=0.1)}
    whole = _train(_load(tiny_causal_path), records[:8], [], tmp_path / "whole", **common)
    cut = _train(_load(tiny_causal_path), records[:8], [], tmp_path / "cut", callbacks=[_StopAfterSave(3)], **common)
    assert cut.steps == 3
    halfway = load_file(cut.adapter_dir / "adapter_model.safetensors")
    resumed = _train(_load(tiny_causal_path), records[:8], [], tmp_path / "cut", resume=True, **common)
    assert resumed.steps == 6
    expected = load_file(whole.adapter_dir / "adapter_model.safetensors")
    got = load_file(resumed.adapter_dir / "adapter_model.safetensors")
    assert expected.keys() == got.keys()
    assert all(torch.allclose(expected[k], got[k], atol=1e-6) for k in expected)
    assert not all(torch.allclose(expected[k], halfway[k], atol=1e-6) for k in expected)
    steps = [json.loads(line)["step"] for line in resumed.log_path.read_text().splitlines()]
    assert [s for s in steps if s <= 6] == sorted(s for s in steps if s <= 6)  # no rows repeated from the cut run
    with pytest.raises(LorabenchError, match="resume"):
        _train(_load(tiny_causal_path), records[:8], [], tmp_path / "cut", **common)


def test_early_stopping_stops_when_the_val_metric_stops_improving(tiny_causal_path, records, tmp_path):
    result = _train(
        _load(tiny_causal_path), records[:8], records[8:10], tmp_path, max_steps=20, lr=1e-6,
        eval_every=1, save_every=1, val_metric_items=2, early_stopping_patience=1,
    )
    assert result.stopped_early and result.steps == 2  # exact match stays 0: no better after the first
    best = load_file(tmp_path / "checkpoints" / "checkpoint-1" / "adapter_model.safetensors")
    final = load_file(result.adapter_dir / "adapter_model.safetensors")
    assert all(torch.equal(best[k], final[k]) for k in best)  # the best adapter is the one saved


def test_early_stopping_needs_checkpoints_at_validations():
    with pytest.raises(ValidationError, match="save_every"):
        TrainSettings(early_stopping_patience=2, eval_every=10, save_every="epoch")


class _PoisonAdapter(TrainerCallback):
    """NaN into the adapter once step 2 is done (and checkpointed), so step 3's loss is NaN."""

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 2:
            with torch.no_grad():
                for name, param in model.named_parameters():
                    if "lora_A" in name:
                        param.fill_(float("nan"))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_causal_path, records, tmp_path):
    loaded = _load(tiny_causal_path)
    with pytest.raises(LorabenchError, match="checkpoint-2") as error:
        _train(loaded, records[:8], [], tmp_path, save_every=1, callbacks=[_PoisonAdapter()])
    assert "step 3" in str(error.value) and "nan" in str(error.value)
    kept = load_file(tmp_path / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors")
    assert all(torch.isfinite(t).all() for t in kept.values())
    assert not (tmp_path / "checkpoints" / "checkpoint-3").exists()
    assert not any("lora" in name for name, _ in loaded.model.named_modules())


def test_unknown_target_module_lists_the_linear_layers(tiny_causal_path, records, tmp_path):
    with pytest.raises(LorabenchError, match="q_proj") as error:
        _train(_load(tiny_causal_path), records[:8], [], tmp_path, lora=LoraSettings(target_modules=["qkv"]))
    assert "qkv" in str(error.value)


def test_merging_an_adapted_tied_head_is_refused_before_training(tiny_causal_path, records, tmp_path):
    # The tiny model ties lm_head to the embeddings: merging lm_head's update would change both.
    with pytest.raises(LorabenchError, match="tied"):
        _train(
            _load(tiny_causal_path), records[:8], [], tmp_path, lora=LoraSettings(target_modules=WITH_HEAD), merge=True
        )
    assert not (tmp_path / "checkpoints").exists()


def test_train_split_smaller_than_one_batch_is_an_error(tiny_causal_path, records, tmp_path):
    with pytest.raises(LorabenchError, match="3 training examples.*= 4"):
        _train(_load(tiny_causal_path), records[:3], [], tmp_path, batch_size=2, grad_accum=2)


def test_seq2seq_trains_and_validates(tiny_seq2seq_path, records, tmp_path):
    rows = []
    result = _train(
        _load(tiny_seq2seq_path), records[:4], records[4:6], tmp_path, on_log=rows.append,
        max_steps=2, eval_every=2, val_metric_items=2,
    )
    assert result.steps == 2 and (result.adapter_dir / "adapter_model.safetensors").is_file()
    assert json.loads((result.adapter_dir / "adapter_config.json").read_text())["task_type"] == "SEQ_2_SEQ_LM"
    assert any("val_exact_match" in r for r in rows)


# ---- whole-run figures across a resume, and the logging schedule ------------------------------------


class _Crash(Exception):
    pass


class _CrashAtStep(TrainerCallback):
    """Dies (like a killed process: no end-of-training summary) as step `step` begins."""

    def __init__(self, step):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step - 1:
            raise _Crash


class _SlowSteps(TrainerCallback):
    def __init__(self, seconds):
        self.seconds = seconds

    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(self.seconds)


def _rows(result):
    return [json.loads(line) for line in result.log_path.read_text().splitlines()]


def test_resumed_run_reports_the_whole_runs_loss_seconds_and_throughput(tiny_causal_path, records, tmp_path):
    common = {"max_steps": 6, "save_every": 3, "lora": LoraSettings(dropout=0.1)}
    whole = _train(_load(tiny_causal_path), records[:8], [], tmp_path / "whole", **common)
    # Slow steps before the crash at step 5; the checkpoint of step 3 is the one resumed from.
    with pytest.raises(_Crash):
        _train(_load(tiny_causal_path), records[:8], [], tmp_path / "cut",
               callbacks=[_SlowSteps(0.5), _CrashAtStep(5)], **common)
    progress = json.loads((tmp_path / "cut" / "checkpoints" / "checkpoint-3" / "lorabench_progress.json").read_text())
    assert progress["step"] == 3 and progress["train_seconds"] >= 1.5 and progress["step_seconds"] >= 1.5
    started = time.perf_counter()
    resumed = _train(_load(tiny_causal_path), records[:8], [], tmp_path / "cut", resume=True, **common)
    resumed_wall = time.perf_counter() - started

    # The same mean loss over all 6 steps, not over the 3 resumed ones.
    assert whole.train_loss is not None and abs(resumed.train_loss - whole.train_loss) < 1e-6
    losses = [r["loss"] for r in _rows(whole) if "loss" in r]
    assert len(losses) == 6 and abs(whole.train_loss - sum(losses) / 6) < 1e-9
    summaries = [r for r in _rows(resumed) if "train_loss" in r]
    assert len(summaries) == 1 and summaries[0]["train_loss"] == resumed.train_loss
    assert [r["step"] for r in _rows(resumed) if "loss" in r] == [1, 2, 3, 4, 5, 6]  # step 4 of the crash cut away

    # Seconds: the 3 slow steps before the checkpoint plus the resumed part; tokens/s over both parts.
    assert progress["train_seconds"] < resumed.train_seconds <= progress["train_seconds"] + resumed_wall
    assert summaries[0]["train_runtime"] == resumed.train_seconds
    tokens = [r["tokens_seen"] for r in _rows(resumed) if "loss" in r][-1]
    assert 0 < resumed.tokens_per_second <= tokens / progress["step_seconds"]
    assert summaries[0]["train_tokens_per_second"] == resumed.tokens_per_second


def test_resume_after_a_clean_stop_keeps_one_summary_row(tiny_causal_path, records, tmp_path):
    common = {"max_steps": 6, "save_every": 3}
    _train(_load(tiny_causal_path), records[:8], [], tmp_path, callbacks=[_StopAfterSave(3)], **common)
    resumed = _train(_load(tiny_causal_path), records[:8], [], tmp_path, resume=True, **common)
    assert [r["step"] for r in _rows(resumed) if "train_loss" in r] == [6]


def test_a_short_run_logs_every_step(tiny_causal_path, records, tmp_path):
    result = _train(_load(tiny_causal_path), records[:8], [], tmp_path, max_steps=8, logging_steps=5)
    assert [r["step"] for r in _rows(result) if "loss" in r] == list(range(1, 9))
    assert "every max(1, steps // 20) steps" in TrainSettings.model_fields["logging_steps"].description


def test_an_epoch_run_counts_its_steps_as_trainer_does(tiny_causal_path, records, tmp_path):
    settings = TrainSettings(max_steps=None, epochs=1.5, batch_size=3, grad_accum=2, logging_steps=5)
    assert total_steps(8, settings, 1) == 3  # 3 batches: 2 steps an epoch, the second with one batch
    result = _train(_load(tiny_causal_path), records[:8], [], tmp_path, **settings.model_dump(exclude_defaults=True),
                    max_steps=None)
    assert result.steps == 3 and [r["step"] for r in _rows(result) if "loss" in r] == [1, 2, 3]


def test_a_run_trains_with_its_resolved_prompt_exactly_as_train_adapter_fits_one(tiny_causal_path, records, tmp_path):
    """train_resolved (a run's Task and prompt, resolved once) and train_adapter (which resolves them
    itself) make the same adapter record and the same losses."""
    from lorabench.core.kinds import get_task
    from lorabench.prompts.build import resolve_prompt
    from lorabench.training.train import train_resolved

    settings = TrainSettings(max_steps=2, batch_size=2, logging_steps=1, val_metric_items=2, eval_every=2, save_every=1000)
    loaded = _load(tiny_causal_path)
    task = get_task(records[0].task)
    prompt = resolve_prompt(PROMPT, loaded.model, DECODING.max_new_tokens_for(task.kind))
    assert prompt.context_length == loaded.model.config.max_position_embeddings
    runs = [
        train_adapter(loaded, records[:8], records[8:], tmp_path / "a", PROMPT, LoraSettings(), settings, DECODING,
                      ScoreSettings()),
        train_resolved(loaded, task, records[:8], records[8:], tmp_path / "b", prompt, LoraSettings(), settings, DECODING,
                       ScoreSettings()),
    ]
    metas = [json.loads((run.adapter_dir / "lorabench.json").read_text()) for run in runs]
    assert metas[0] == metas[1]
    assert runs[0].train_loss == runs[1].train_loss and runs[0].best_val_metric == runs[1].best_val_metric
