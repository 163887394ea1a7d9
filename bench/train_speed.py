"""Training speed: the naive LoRA recipe against lorabench's, on the same model, data and settings.

The naive recipe is what most scripts do: pad every example to one fixed length and compute
logits (a vocabulary-sized row) at every position, even though only answer tokens are learned.
lorabench pads each batch only to its longest example, batches examples of similar length
together, and runs the LM head only where there is a label.

Both run through transformers' Trainer with the same LoRA config, batch size, learning rate,
seed and number of steps, one after the other in this process; the table reports ratios,
which are comparable across machines, and the training loss after N steps, which should agree.

    python bench/train_speed.py [--model smollm2-135m-instruct] [--items 64] [--steps 8]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import psutil
import torch
from rich.console import Console
from rich.table import Table
from transformers import Trainer, TrainingArguments

from lorabench.data.synth import synthesize
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings, fit_to_model
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter
from lorabench.training.lora import wrap_with_lora
from lorabench.training.examples import IGNORE_INDEX, encode_examples


class PeakRss:
    """Peak resident memory of this process while the block runs, sampled every 20 ms."""

    def __enter__(self) -> "PeakRss":
        self.process, self.peak, self.running = psutil.Process(), 0, True
        self.base = self.process.memory_info().rss
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()

    @property
    def delta_mib(self) -> float:
        return (self.peak - self.base) / 2**20


class FixedLengthDataset(torch.utils.data.Dataset):
    def __init__(self, examples: list, length: int, pad_id: int) -> None:
        self.rows = []
        for ex in examples:
            pad = length - len(ex.input_ids)
            self.rows.append({
                "input_ids": torch.tensor(ex.input_ids + [pad_id] * pad),
                "attention_mask": torch.tensor([1] * len(ex.input_ids) + [0] * pad),
                "labels": torch.tensor(ex.labels + [IGNORE_INDEX] * pad),
            })

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def naive_run(model_name: str, records: list, lora: LoraSettings, training: TrainSettings, steps: int) -> dict:
    loaded = load_model(ModelSpec(name=model_name))
    prompt = fit_to_model(PromptSettings(), loaded.model, DecodingSettings().max_new_tokens_for("extractive"))
    examples = encode_examples(records, loaded.tokenizer, prompt, False)
    length = max(len(e.input_ids) for e in examples)  # the kindest fixed length: the data's own maximum
    dataset = FixedLengthDataset(examples, length, loaded.tokenizer.pad_token_id)
    model = wrap_with_lora(loaded, lora, training)
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, max_steps=steps, per_device_train_batch_size=training.batch_size,
            learning_rate=training.lr, lr_scheduler_type="constant", warmup_steps=0, seed=training.seed,
            logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, dataloader_num_workers=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset)
        with PeakRss() as memory:
            start = time.perf_counter()
            trainer.train()
            seconds = time.perf_counter() - start
    losses = [row["loss"] for row in trainer.state.log_history if "loss" in row]
    # Trainer shuffles, so count the average example: non-padding tokens are the useful work.
    useful = sum(len(e.input_ids) for e in examples) / len(examples) * steps * training.batch_size
    return {"tokens_per_s": useful / seconds, "padded_len": length, "peak_mib": memory.delta_mib,
            "loss": sum(losses[-3:]) / len(losses[-3:]), "seconds": seconds}


def lorabench_run(model_name: str, records: list, lora: LoraSettings, training: TrainSettings) -> dict:
    loaded = load_model(ModelSpec(name=model_name))
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as memory:
        start = time.perf_counter()
        result = train_adapter(
            loaded, records, [], Path(tmp), PromptSettings(), lora, training, DecodingSettings(), ScoreSettings()
        )
        seconds = time.perf_counter() - start
        rows = [__import__("json").loads(line) for line in result.log_path.read_text().splitlines()]
    losses = [row["loss"] for row in rows if "loss" in row]
    return {"tokens_per_s": result.tokens_per_second, "peak_mib": memory.delta_mib,
            "loss": sum(losses[-3:]) / len(losses[-3:]), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    records = synthesize("extractive", args.items, seed=0)
    lora = LoraSettings(r=16, alpha=32, dropout=0.0, target_modules="all-linear")
    # A constant rate and no validation, so the two runs differ only in how batches are built.
    training = TrainSettings(
        max_steps=args.steps, batch_size=args.batch_size, lr=5e-4, schedule="constant", warmup_ratio=0.0,
        logging_steps=1, val_metric_items=0, eval_every=10_000, save_every=10_000,
    )
    torch.manual_seed(0)
    naive = naive_run(args.model, records, lora, training, args.steps)
    ours = lorabench_run(args.model, records, lora, training)
    table = Table(title=f"LoRA training speed, {args.model}, {args.steps} steps x batch {args.batch_size}, "
                        f"{torch.get_num_threads()} threads")
    for column in ("recipe", "tokens/s", "peak RSS growth (MiB)", "loss (last 3 steps)", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(f"naive (pad to {naive['padded_len']}, all logits)", f"{naive['tokens_per_s']:.0f}",
                  f"{naive['peak_mib']:.0f}", f"{naive['loss']:.3f}", f"{naive['seconds']:.0f}")
    table.add_row("lorabench (dynamic pad, length groups, answer logits)", f"{ours['tokens_per_s']:.0f}",
                  f"{ours['peak_mib']:.0f}", f"{ours['loss']:.3f}", f"{ours['seconds']:.0f}")
    table.add_row("ratio", f"{ours['tokens_per_s'] / naive['tokens_per_s']:.2f}x",
                  f"{ours['peak_mib'] / max(naive['peak_mib'], 1):.2f}x", "", "")
    Console().print(table)


if __name__ == "__main__":
    main()
