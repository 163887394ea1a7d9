"""Real lm-evaluation-harness runs for tests: local task files over small JSON Lines data,
evaluated by lm-eval as its CLI does with `--log_samples` on the tiny causal model, once with a
random LoRA adapter (`peft=`) so some answers change. Offline, in seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MC_TASK, GEN_TASK = "tiny_mc", "tiny_gen"
# The tiny model answers every generation prompt with this; half the gold answers are it, so
# exact_match is not all zeros.
TINY_MODEL_GENERATES = "::::"


@dataclass(frozen=True)
class LmEvalRuns:
    base: Path  # an --output_path folder: results and samples are one level down
    tuned: Path
    tasks: list[Path]  # the task YAML files (multiple choice, generate_until)
    adapter: Path


def write_tasks(folder: Path, n_choice: int = 24, n_generate: int = 8) -> list[Path]:
    """A multiple-choice task (acc, acc_norm) and a generate_until task (exact_match), each a YAML
    file over a JSON Lines file beside it, named by absolute path as lm-eval reads data paths."""
    folder.mkdir(parents=True, exist_ok=True)
    choice = folder / "choice.jsonl"
    choice.write_text("".join(
        json.dumps({"question": f"What is {i} + 1?", "choices": [str(i + 1), str(i + 2), str(i), "7"], "answer": i % 4}) + "\n"
        for i in range(n_choice)
    ))
    generate = folder / "generate.jsonl"
    generate.write_text("".join(
        json.dumps({"question": f"What is {i} + 1?", "answer": TINY_MODEL_GENERATES if i % 2 else str(i + 1)}) + "\n"
        for i in range(n_generate)
    ))
    mc = folder / f"{MC_TASK}.yaml"
    mc.write_text(
        f"task: {MC_TASK}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {choice}\ntest_split: test\n"
        "output_type: multiple_choice\ndoc_to_text: \"Question: {{question}}\\nAnswer:\"\ndoc_to_choice: \"{{choices}}\"\n"
        "doc_to_target: answer\nmetric_list:\n  - metric: acc\n    higher_is_better: true\n"
        "  - metric: acc_norm\n    higher_is_better: true\n"
    )
    gen = folder / f"{GEN_TASK}.yaml"
    gen.write_text(
        f"task: {GEN_TASK}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {generate}\ntest_split: test\n"
        "output_type: generate_until\ndoc_to_text: \"Question: {{question}}\\nAnswer:\"\ndoc_to_target: answer\n"
        "generation_kwargs:\n  until: [\"\\n\"]\n  max_gen_toks: 4\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
    )
    return [mc, gen]


def random_adapter(model_path: Path, folder: Path) -> Path:
    """A LoRA adapter with random (not zero) B matrices, so base + adapter answers differently."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_path)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(folder, safe_serialization=True)
    return folder


def library_run(model_path: Path, tasks: list[Path], output: Path, peft: Path | None = None) -> Path:
    """What `lm-eval run --model hf --tasks ... --output_path OUTPUT --log_samples` does (lm_eval/_cli/run.py),
    through the library in this process: simple_evaluate, then the tracker saves results and samples."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    model_args = {"pretrained": str(model_path), "dtype": "float32", **({"peft": str(peft)} if peft else {})}
    tracker = EvaluationTracker(output_path=str(output))
    results = simple_evaluate(
        model="hf", model_args=model_args, tasks=[str(t) for t in tasks], device="cpu", batch_size=4,
        log_samples=True, evaluation_tracker=tracker, task_manager=TaskManager(include_defaults=False),
    )
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    return output


def make_runs(model_path: Path, folder: Path) -> LmEvalRuns:
    tasks = write_tasks(folder / "tasks")
    adapter = random_adapter(model_path, folder / "adapter")
    base = library_run(model_path, tasks, folder / "base")
    tuned = library_run(model_path, tasks, folder / "tuned", peft=adapter)
    return LmEvalRuns(base, tuned, tasks, adapter)
