"""LoRA training: TRL `SFTTrainer` against `lorabench train`, extractive QA.

TRL gets a prompt/completion dataset of exactly lorabench's prompt and target texts (it adds the
tokenizer's EOS, `<|im_end|>`, which is also lorabench's end-of-answer token, and learns the
completion only), and the same LoRA (r, alpha, dropout, all linear layers), batch size, learning
rate and schedule, epochs and seed. Everything else stays at SFTConfig's defaults, as a user
running it would have them (gradient checkpointing on, unless --trl-no-checkpointing), except
precision, which both take from the row's dtype: in float32 TRL's bf16 is off, as lorabench trains
float32 weights without autocast; in bfloat16 TRL loads the weights in bfloat16
(`model_init_kwargs`) with `bf16=True` (autocast), which is what lorabench's `model.dtype:
bfloat16` does (its training.bf16 follows the weights), the LoRA weights staying in float32 in
both, as peft keeps them. Timed: `trainer.train()` for TRL, the same loop inside `train_adapter` for
lorabench (its `train_seconds`: no validation, no checkpoint in either).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from datasets import Dataset
from peft import LoraConfig
from transformers import PrinterCallback
from trl import SFTConfig, SFTTrainer

from bench.flops import model_shape, training_flops
from bench.peers.model import DEVICE, load_lorabench, model_folder, timed
from bench.peers.result import CaseResult, Outputs, Target
from lorabench.data.records import TaskKind
from lorabench.data.synth import synthesize
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.prompts.build import PromptSettings, build_prompt, fit_to_model, model_context_length
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter
from lorabench.training.examples import EncodedExample, encode_examples

TARGET = Target(ratio=3.5, ceiling_share=0.60)
TASK = TaskKind.extractive
LORA = LoraSettings(r=16, target_modules="all-linear")


def settings(batch_size: int, epochs: float, seed: int) -> TrainSettings:
    """lorabench's defaults, with no validation and no checkpoint inside the timed loop."""
    return TrainSettings(
        epochs=epochs, batch_size=batch_size, seed=seed, val_metric_items=0, eval_every=10**9, save_every=10**9
    )


def trl_trainer(prompts: list, training: TrainSettings, out: Path, checkpointing: bool, dtype: str) -> SFTTrainer:
    config = SFTConfig(
        output_dir=str(out),
        num_train_epochs=training.epochs,
        per_device_train_batch_size=training.batch_size,
        learning_rate=training.lr,
        lr_scheduler_type=training.schedule,
        warmup_steps=training.warmup_ratio,  # below 1: a fraction of the steps, as lorabench passes it
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        seed=training.seed,
        bf16=dtype == "bfloat16",
        model_init_kwargs={"dtype": dtype},
        use_cpu=DEVICE == "cpu",  # as lorabench runs; TrainingArguments refuses bf16 without it on a CPU-only torch
        gradient_checkpointing=checkpointing,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=LORA.r, lora_alpha=LORA.alpha, lora_dropout=LORA.dropout, target_modules=LORA.target_modules,
        bias="none", task_type="CAUSAL_LM",
    )
    dataset = Dataset.from_list([{"prompt": p.text, "completion": p.target} for p in prompts])
    trainer = SFTTrainer(model=str(model_folder()), args=config, train_dataset=dataset, peft_config=lora)
    trainer.remove_callback(PrinterCallback)  # its log lines would land between the tables
    return trainer


def same_tokens(trainer: SFTTrainer, examples: list[EncodedExample]) -> int:
    """Examples TRL tokenized and masked (labels -100 outside the completion) exactly as lorabench did."""
    rows = trainer.train_dataset
    return sum(
        row["input_ids"] == example.input_ids and row["labels"] == example.labels
        for row, example in zip(rows, examples, strict=True)
    )


def run(n_items: int, batch_size: int, epochs: float, seed: int, trl_checkpointing: bool, dtype: str = "float32") -> CaseResult:
    training = settings(batch_size, epochs, seed)
    records = synthesize(TASK, n_items, seed)
    loaded = load_lorabench(dtype)
    tokenizer = loaded.tokenizer
    # What train_adapter encodes: the prompt fitted as evaluation fits it, answers cut at the window.
    fitted = fit_to_model(PromptSettings(), loaded.model, DecodingSettings().max_new_tokens_for(TASK))
    examples = encode_examples(records, tokenizer, fitted, False, model_context_length(loaded.model))
    prompts = [build_prompt(r, tokenizer, fitted) for r in records]
    shape = model_shape(loaded.model)

    with tempfile.TemporaryDirectory() as tmp:
        trainer = trl_trainer(prompts, training, Path(tmp) / "trl", trl_checkpointing, dtype)
        trl_output, trl_seconds = timed(trainer.train)
        matching = same_tokens(trainer, examples)
        del trainer
        # Timed inside: train_seconds is its training loop alone, as trainer.train() is TRL's.
        result, _ = timed(lambda: train_adapter(
            loaded, records, [], Path(tmp) / "lorabench", PromptSettings(), LORA, training, DecodingSettings(),
            ScoreSettings(),
        ))
    tokens = sum(len(e.input_ids) for e in examples) * epochs
    n = len(records)
    return CaseResult(
        case="LoRA training (extractive)",
        items=f"{n} examples, {result.steps} steps",
        peer=f"TRL SFTTrainer, gradient checkpointing {'on' if trl_checkpointing else 'off'}",
        peer_seconds=trl_seconds,
        lorabench_seconds=result.train_seconds,
        agreement=f"mean train loss {trl_output.training_loss:.3f} (TRL) vs {result.train_loss:.3f}",
        required_flops=training_flops(shape, [(len(e.input_ids), e.learned_tokens) for e in examples], LORA.r) * epochs,
        target=TARGET,
        dtype=dtype,
        outputs=Outputs("loss", [trl_output.training_loss], [result.train_loss]),
        notes=[
            f"r {LORA.r} all-linear, batch {batch_size}, lr {training.lr} {training.schedule}, {epochs:g} epoch(s), "
            f"{tokens:.0f} input tokens ({sum(e.learned_tokens for e in examples) * epochs:.0f} learned): "
            f"{tokens / trl_seconds:.0f} tokens/s TRL, {tokens / result.train_seconds:.0f} lorabench; "
            f"{matching}/{n} examples tokenized and masked identically",
        ],
    )
