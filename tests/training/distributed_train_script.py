"""Train a LoRA adapter on the tiny causal model, single-process or under a distributed launcher.

    python tests/training/distributed_train_script.py MODEL_DIR OUT_DIR --batch-size N [--max-steps S]
    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/training/distributed_train_script.py ...

Everything but the per-device batch size is fixed here (seed, data, LoRA shape, schedule), so a run
with 1 process and batch 2B and a run with 2 processes and batch B see the same global batches.
`train_adapter` writes OUT_DIR/train_log.jsonl and OUT_DIR/adapter (main process only). Used by
tests/test_distributed.py.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import torch

from lorabench.data.synth import synthesize
from lorabench.config.decoding import DecodingSettings
from lorabench.metrics.scoring import ScoreSettings
from lorabench.models.load import ModelSpec, load_model
from lorabench.prompts.build import PromptSettings
from lorabench.training.train import LoraSettings, TrainSettings, train_adapter

# 24 training items: 6 steps of 4 per epoch. (With 16, length groups of 2 and of 4 happen to give the
# same order, which would hide a sampler that groups by the per-device batch instead of the global one.)
N_TRAIN = 24
N_VAL = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--batch-size", type=int, required=True, help="Per-device batch size.")
    parser.add_argument("--max-steps", type=int, default=4)
    args = parser.parse_args()

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # peft/transformers deprecation chatter, once per rank
    records = synthesize("extractive", N_TRAIN + N_VAL, seed=1)
    loaded = load_model(ModelSpec(name=str(args.model_dir)))
    result = train_adapter(
        loaded,
        records[:N_TRAIN],
        records[N_TRAIN:],
        args.out_dir,
        PromptSettings(max_prompt_tokens=128),
        # No dropout: its masks depend on how the global batch is split, which is exactly what differs.
        LoraSettings(dropout=0.0),
        TrainSettings(
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            lr=5e-3,
            warmup_ratio=0.0,
            schedule="constant",
            seed=0,
            logging_steps=1,
            eval_every=args.max_steps,
            save_every=1000,
            val_metric_items=2,
        ),
        DecodingSettings(max_new_tokens=4, batch_size=4),
        ScoreSettings(),
    )
    rank = int(os.environ.get("RANK", "0"))
    summary = {"rank": rank, "world_size": int(os.environ.get("WORLD_SIZE", "1")), "steps": result.steps}
    (args.out_dir / f"done-rank{rank}.json").write_text(json.dumps(summary), encoding="utf-8")


if __name__ == "__main__":
    main()
