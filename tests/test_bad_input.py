"""Every command, fed a user mistake, answers with one line naming the culprit and exit code 2.

The corpus is data: one row per mistake. A row is the command line (placeholders in braces are
files made below) and a fragment the message must contain, the option or the `file:line: key`.
Each case also checks that no traceback is shown and that no run folder was left behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from lorabench.cli import app
from lorabench.data.records import TaskKind
from lorabench.data.synth import write_synth

runner = CliRunner()
LM_DATE = "2025-01-02T03-04-05.000006"  # the date stamp lm-eval puts in its file names

# (case id, argv, fragment the error must contain). {out} is a folder that must not be created.
OPTION_CASES: list[tuple[str, str, str]] = [
    # score
    ("score-missing-file", "score {missing} --task extractive", "missing.jsonl"),
    ("score-folder", "score {folder} --task extractive", "folder"),
    ("score-empty-file", "score {empty} --task extractive", "empty.jsonl"),
    ("score-unknown-task", "score {preds} --task trivia", "--task"),
    ("score-short-thresh-0", "score {preds} --task extractive --short-thresh 0", "--short-thresh"),
    ("score-short-thresh-text", "score {preds} --task extractive --short-thresh three", "--short-thresh"),
    ("score-rouge-above-1", "score {preds} --task extractive --rouge-threshold 1.5", "--rouge-threshold"),
    ("score-rouge-negative", "score {preds} --task extractive --rouge-threshold -0.1", "--rouge-threshold"),
    ("score-bad-json", "score {badjson} --task extractive", "bad.jsonl:2"),
    ("score-out-is-file", "score {preds} --task extractive --out {preds}", "--out"),
    # synth
    ("synth-n-0", "synth --task extractive -n 0 --out {out}/x.jsonl", "-n"),
    ("synth-n-negative", "synth --task extractive -n -5 --out {out}/x.jsonl", "-n"),
    ("synth-n-text", "synth --task extractive -n many --out {out}/x.jsonl", "-n"),
    ("synth-unknown-task", "synth --task trivia --out {out}/x.jsonl", "--task"),
    ("synth-out-is-folder", "synth --task extractive -n 5 --out {folder}", "--out"),
    ("synth-out-under-file", "synth --task extractive -n 5 --out {qa}/x.jsonl", "--out"),
    ("synth-seed-text", "synth --task extractive --seed abc --out {out}/x.jsonl", "--seed"),
    ("synth-no-task", "synth -n 5 --out {out}/x.jsonl", "--task"),
    # leakage
    ("leakage-ngram-0", "leakage {qa} {qa} --task extractive --ngram 0", "--ngram"),
    ("leakage-ngram-negative", "leakage {qa} {qa} --task extractive --ngram -2", "--ngram"),
    ("leakage-missing-train", "leakage {missing} {qa} --task extractive", "missing.jsonl"),
    ("leakage-missing-test", "leakage {qa} {missing} --task extractive", "missing.jsonl"),
    ("leakage-empty-file", "leakage {qa} {empty} --task extractive", "empty.jsonl"),
    ("leakage-wrong-task", "leakage {qa} {qa} --task choice", "field"),
    ("leakage-no-shape", "leakage {noshape} {qa} --task open", "noshape.jsonl:1: no known shape: tried chat"),
    ("leakage-chat-bad-row", "leakage {chat_bad} {qa} --task open", "chat_bad.jsonl:1: field 'messages'"),
    # eval
    ("eval-batch-size-0", "eval -m {model} -d {qa} -t extractive --out {out} --batch-size 0", "--batch-size"),
    ("eval-batch-size-negative", "eval -m {model} -d {qa} -t extractive --out {out} --batch-size -4", "--batch-size"),
    ("eval-batch-size-text", "eval -m {model} -d {qa} -t extractive --out {out} --batch-size eight", "--batch-size"),
    ("eval-chat-template", "eval -m {model} -d {qa} -t extractive --out {out} --chat-template maybe", "--chat-template"),
    ("eval-choice-mode", "eval -m {model} -d {qa} -t extractive --out {out} --choice-mode guess", "--choice-mode"),
    ("eval-dtype", "eval -m {model} -d {qa} -t extractive --out {out} --dtype float8", "--dtype"),
    ("eval-device", "eval -m {model} -d {qa} -t extractive --out {out} --device gpu", "--device"),
    ("eval-limit-0", "eval -m {model} -d {qa} -t extractive --out {out} --limit 0", "--limit"),
    ("eval-limit-negative", "eval -m {model} -d {qa} -t extractive --out {out} --limit -1", "--limit"),
    ("eval-data-is-folder", "eval -m {model} -d {folder} -t extractive --out {out}", "folder"),
    ("eval-adapter-is-model", "eval -m {model} -d {qa} -t extractive --out {out} --adapter {model}", "adapter"),
    ("eval-max-new-tokens-0", "eval -m {model} -d {qa} -t extractive --out {out} --max-new-tokens 0", "--max-new-tokens"),
    ("eval-format", "eval -m {model} -d {qa} -t extractive --out {out} --format xml", "--format"),
    ("eval-preset", "eval -m {model} -d {qa} -t extractive --out {out} --preset chatml", "--preset"),
    ("eval-preset-column-absent", "eval -m {model} -d {qa} -t open --out {out} --preset chat", "qa.jsonl:1: preset 'chat'"),
    ("eval-no-shape", "eval -m {model} -d {noshape} -t open --out {out}", "noshape.jsonl:1: no known shape"),
    ("eval-chat-bad-row", "eval -m {model} -d {chat_bad} -t open --out {out}", "chat_bad.jsonl:1: field 'messages'"),
    ("eval-unknown-task", "eval -m {model} -d {qa} -t trivia --out {out}", "--task"),
    ("eval-missing-data", "eval -m {model} -d {missing} -t extractive --out {out}", "missing.jsonl"),
    ("eval-empty-data", "eval -m {model} -d {empty} -t extractive --out {out}", "empty.jsonl"),
    ("eval-data-wrong-task", "eval -m {model} -d {qa} -t math --out {out}", "field"),
    ("eval-unknown-alias", "eval -m smollm3-tiny -d {qa} -t extractive --out {out}", "smollm3-tiny"),
    ("eval-model-not-a-model", "eval -m {folder} -d {qa} -t extractive --out {out}", "folder"),
    ("eval-missing-gguf", "eval -m {out}/model.gguf -d {qa} -t extractive --out {out}", "model.gguf"),
    ("eval-missing-adapter", "eval -m {model} -d {qa} -t extractive --out {out} --adapter {missing}", "missing.jsonl"),
    ("eval-adapter-not-adapter", "eval -m {model} -d {qa} -t extractive --out {out} --adapter {folder}", "folder"),
    ("eval-adapter-other-base", "eval -m {model} -d {qa} -t extractive --out {out} --adapter {other_adapter}", "adapter"),
    ("eval-out-is-file", "eval -m {model} -d {qa} -t extractive --out {qa}", "--out"),
    ("eval-prompt-missing", "eval -m {model} -d {qa} -t extractive --out {out} --prompt {missing}", "--prompt"),
    ("eval-prompt-unknown-key", "eval -m {model} -d {qa} -t extractive --out {out} --prompt {bad_prompt}",
     "bad_prompt.yaml:2: prompt.temperature: unknown key"),
    ("eval-prompt-undefined", "eval -m {model} -d {qa} -t extractive --out {out} --prompt {undefined_prompt}",
     "prompt.template: record"),
    ("eval-few-shot-from-unused", "eval -m {model} -d {qa} -t extractive --out {out} --few-shot-from {qa}",
     "--few-shot-from"),
    ("eval-few-shot-from-missing", "eval -m {model} -d {qa} -t extractive --out {out} --few-shot-from {missing}",
     "--few-shot-from"),
    ("eval-few-shot-no-examples", "eval -m {model} -d {qa} -t extractive --out {out} --prompt {few_shot_prompt}",
     "--few-shot-from FILE"),
    ("eval-few-shot-from-the-items", "eval -m {model} -d {qa} -t extractive --out {out} --prompt {few_shot_prompt} "
     "--few-shot-from {qa}", "few-shot examples vs evaluation items"),
    ("eval-adapter-other-prompt", "eval -m {model} -d {qa} -t extractive --out {out} --adapter {prompted_adapter}",
     "prompt settings differ from the adapter's training"),
    ("eval-choice-target-template", "eval -m {model} -d {choice_file} -t choice --out {out} --prompt {target_prompt}",
     "--choice-mode"),
    # run / train / study: the config file itself
    ("run-missing-config", "run {missing}", "missing.jsonl"),
    ("run-config-is-folder", "run {folder}", "folder"),
    ("run-config-empty", "run {empty}", "empty.jsonl"),
    ("run-config-is-list", "run {list_yaml}", "list.yaml"),
    ("run-config-not-yaml", "run {broken_yaml}", "broken.yaml:3: not valid YAML"),
    ("run-set-without-equals", "run {config} --set training.lr", "training.lr"),
    ("run-set-unknown-key", "run {config} --set training.lr_decay=0.1", "training.lr_decay"),
    ("run-set-bad-value", "run {config} --set training.epochs=0", "training.epochs"),
    ("run-set-into-scalar", "run {config} --set task.kind=open", "task"),
    ("run-with-sweep", "run {study_config}", "lorabench study"),
    ("run-set-bad-yaml-value", "run {config} --set training.lr=[1", "training.lr"),
    ("run-set-empty-key", "run {config} --set =3", "=3"),
    ("run-set-alias-bad-value", "run {config} --set learning_rate=-1", "learning_rate: Input should be greater than 0"),
    ("run-set-trainer-arg-unknown", "run {config} --set training.trainer_args.optimm=sgd", "training.trainer_args.optimm"),
    ("train-out-is-file", "train {config} --out {qa}", "--out"),
    ("study-plan-bad-config", "study {list_yaml} --plan", "list.yaml"),
    ("train-missing-config", "train {missing}", "missing.jsonl"),
    ("train-config-is-list", "train {list_yaml}", "list.yaml"),
    ("train-bad-value", "train {config} --set lora.r=0", "lora.r"),
    ("study-missing-config", "study {missing}", "missing.jsonl"),
    ("study-config-is-list", "study {list_yaml}", "list.yaml"),
    ("study-no-sweep", "study {config}", "sweep"),
    # prompts
    ("prompts-missing-config", "prompts {missing}", "missing.jsonl"),
    ("prompts-n-0", "prompts {config} --n 0", "--n"),
    ("prompts-split", "prompts {config} --split validation", "--split"),
    ("prompts-bad-value", "prompts {config} --set prompt.few_shot.k=0", "prompt.few_shot.k"),
    # compare / report / demo
    ("compare-missing-a", "compare {missing} {folder}", "missing.jsonl"),
    ("compare-not-eval-folder", "compare {folder} {folder}", "folder"),
    ("compare-file", "compare {qa} {qa}", "qa.jsonl"),
    ("compare-alpha-0", "compare {folder} {folder} --alpha 0", "--alpha"),
    ("compare-alpha-1", "compare {folder} {folder} --alpha 1", "--alpha"),
    ("compare-resamples-0", "compare {folder} {folder} --resamples 0", "--resamples"),
    ("compare-alpha-text", "compare {folder} {folder} --alpha high", "--alpha"),
    ("compare-lm-eval-truncated", "compare {lm_ok} {lm_truncated}", f"samples_t_{LM_DATE}.jsonl:2: not valid JSON"),
    ("compare-lm-eval-no-samples", "compare {lm_ok} {lm_no_samples}", "--log_samples"),
    ("compare-lm-eval-task-in-one-run", "compare {lm_ok} {lm_other_task}", "task u: only in"),
    ("compare-lm-eval-other-documents", "compare {lm_ok} {lm_other_docs}", "doc_hash differs"),
    ("compare-lm-eval-vs-lorabench", "compare {lm_ok} {folder}", "is lm-eval output but"),
    # judge
    ("judge-missing", "judge {missing} -m x --out {out}", "missing.jsonl"),
    ("judge-not-eval-folder", "judge {folder} -m x --out {out}", "folder"),
    ("judge-no-model", "judge {preds} --out {out}", "--model: no judge model given"),
    ("judge-no-question", "judge {preds} -m x --out {out}", "field 'question': is missing"),
    ("judge-three-runs", "judge {preds} {preds} {preds} -m x --out {out}", "one or two"),
    ("judge-budget-zero", "judge {preds} -m x --max-new-tokens 0 --out {out}", "--max-new-tokens"),
    ("judge-alpha-0", "judge {preds} -m x --alpha 0 --out {out}", "--alpha"),
    ("judge-key-not-name", "judge {preds} -m x --endpoint http://127.0.0.1:9/v1 --api-key-env sk-abc123 --out {out}",
     "--api-key-env: give the NAME"),
    ("judge-endpoint-not-url", "judge {preds} -m x --endpoint localhost:8000 --out {out}", "--endpoint"),
    ("judge-rubric-missing", "judge {preds} -m x --correctness-rubric {missing} --out {out}", "--correctness-rubric"),
    ("judge-config-missing", "judge {preds} --config {missing} --out {out}", "missing.jsonl"),
    ("report-missing", "report {missing}", "missing.jsonl"),
    ("report-file", "report {qa}", "qa.jsonl"),
    ("report-not-run-folder", "report {folder}", "folder"),
    ("demo-out-is-file", "demo --out {qa}", "--out"),
    ("track-missing", "track {missing} --backend tensorboard", "missing.jsonl"),
    ("track-file", "track {qa} --backend tensorboard", "qa.jsonl"),
    ("track-no-backend", "track {folder}", "--backend"),
    ("track-unknown-backend", "track {folder} --backend neptune", "--backend"),
    ("track-not-finished", "track {folder} --backend tensorboard", "no summary.json"),
    # merge
    ("merge-missing-adapter", "merge {missing} --out {out}", "missing.jsonl"),
    ("merge-adapter-is-file", "merge {qa} --out {out}", "qa.jsonl"),
    ("merge-not-an-adapter", "merge {folder} --out {out}", "not a LoRA adapter"),
    ("merge-adapter-is-model", "merge {model} --out {out}", "base model folder"),
    ("merge-plain-peft-adapter", "merge {other_adapter} --out {out}", "lorabench.json"),
    ("merge-no-out", "merge {lb_adapter}", "--out"),
    ("merge-check-items-0", "merge {lb_adapter} --out {out} --check-items 0", "--check-items"),
    ("merge-check-items-text", "merge {lb_adapter} --out {out} --check-items few", "--check-items"),
    ("merge-out-is-file", "merge {lb_adapter} --out {qa}", "--out"),
    ("merge-out-not-empty", "merge {lb_adapter} --out {full}", "--force"),
    ("merge-out-holds-adapter", "merge {lb_adapter} --out {lb_run} --force", "--out"),
    ("merge-missing-data", "merge {lb_adapter} --out {out} --data {missing}", "missing.jsonl"),
    ("merge-data-wrong-task", "merge {lb_adapter} --out {out} --data {math_file}", "field"),
    ("merge-model-not-a-model", "merge {lb_adapter} --out {out} --model {folder}", "folder"),
    ("merge-unknown-alias", "merge {lb_adapter} --out {out} --model smollm3-tiny", "smollm3-tiny"),
    ("merge-dtype", "merge {lb_adapter} --out {out} --dtype float8", "--dtype"),
]

# (case id, dotted key, value, fragment): one key of a valid run config set to a bad value, written
# to the YAML file so the message can name its line. Each is run through `run`, `train` and `study`.
CONFIG_CASES: list[tuple[str, str, Any, str]] = [
    ("unknown-top-key", "epochs", 3, ":{line}: epochs: unknown key"),
    ("unknown-nested-key", "training.lr_decay", 0.1, ":{line}: training.lr_decay: unknown key"),
    ("task-unknown", "task", "trivia", ":{line}: task"),
    ("model-empty", "model", "", ":{line}: model"),
    ("model-unknown-alias", "model", "smollm3-tiny", "smollm3-tiny"),
    ("model-dtype", "model", {"name": "{model}", "dtype": "float8"}, ":{line}: model.dtype"),
    ("model-device", "model", {"name": "{model}", "device": "tpu"}, ":{line}: model.device"),
    ("model-is-list", "model", ["{model}"], ":{line}: model"),
    ("data-missing-file", "data.source", "{missing}", "missing.jsonl"),
    ("data-folder-not-qa", "data.source", "{folder}", "folder"),
    ("data-empty-file", "data.source", "{empty}", "empty.jsonl"),
    ("data-wrong-task-file", "data.source", "{math_file}", "field"),
    ("data-format", "data.source", {"path": "{qa}", "format": "xml"}, ":{line}: data.source.format"),
    ("data-preset", "data.source", {"path": "{qa}", "preset": "chatml"}, ":{line}: data.source.preset"),
    ("data-preset-column-absent", "data.source", {"path": "{qa}", "preset": "alpaca"}, "qa.jsonl:1: preset 'alpaca'"),
    ("data-no-shape", "data.source", "{noshape}", "noshape.jsonl:1: no known shape"),
    ("data-chat-bad-row", "data.source", "{chat_bad}", "chat_bad.jsonl:1: field 'messages'"),
    ("data-source-and-train", "data.train", "{qa}", ":{line}: data"),
    ("data-nothing", "data", {}, ":{line}: data"),
    ("data-is-list", "data", ["{qa}"], ":{line}: data"),
    ("split-test-too-many", "data.split.test", 500, "data.split.test"),
    ("split-test-zero", "data.split.test", 0, "data.split.test"),
    ("split-test-negative", "data.split.test", -3, "data.split.test"),
    ("split-fractions-sum", "data.split.validation", 0.9, "data.split"),
    ("split-seed-text", "data.split.seed", "abc", ":{line}: data.split.seed"),
    ("train-size-zero", "data.train_size", 0, ":{line}: data.train_size"),
    ("test-size-negative", "data.test_size", -1, ":{line}: data.test_size"),
    ("prompt-chat-template", "prompt.chat_template", "maybe", ":{line}: prompt.chat_template"),
    ("prompt-strategy", "prompt.strategy", "parallel", ":{line}: prompt.strategy"),
    ("prompt-max-tokens", "prompt.max_prompt_tokens", 4, ":{line}: prompt.max_prompt_tokens"),
    # Braces are doubled: every value goes through str.format to fill in paths.
    ("prompt-template-syntax", "prompt.template", "{{{{ question ", ":{line}: prompt.template: template syntax error"),
    ("prompt-template-undefined", "prompt.template", "{{{{ question }}}} {{{{ level }}}}",
     "prompt.template: record synth-s0-ex-"),
    ("prompt-template-shows-gold", "prompt.template", "{{{{ answers }}}}", "only available to prompt.target_template"),
    ("prompt-target-template-syntax", "prompt.target_template", "{{{{ answer ", ":{line}: prompt.target_template"),
    ("prompt-answer-prefix-space", "prompt.answer_prefix", "Answer: ", ":{line}: prompt.answer_prefix"),
    ("prompt-answer-prefix-empty", "prompt.answer_prefix", "", ":{line}: prompt.answer_prefix"),
    ("prompt-few-shot-k-zero", "prompt.few_shot", {"k": 0}, ":{line}: prompt.few_shot.k"),
    ("prompt-few-shot-unknown-key", "prompt.few_shot", {"k": 1, "shots": 2}, ":{line}: prompt.few_shot.shots: unknown key"),
    ("prompt-few-shot-style", "prompt.few_shot", {"k": 1, "style": "turns"}, ":{line}: prompt.few_shot.style"),
    ("prompt-few-shot-too-many", "prompt.few_shot", {"k": 40}, "prompt.few_shot.k: 40 shots need at least 41"),
    ("prompt-template-with-batch", "prompt", {"strategy": "batch", "answer_prefix": "A:"},
     ":{line}: prompt: Value error, prompt.answer_prefix: only with prompt.strategy 'single'"),
    ("lora-r-zero", "lora.r", 0, ":{line}: lora.r"),
    ("lora-dropout", "lora.dropout", 1.5, ":{line}: lora.dropout"),
    ("lora-targets", "lora.target_modules", "attention", ":{line}: lora.target_modules"),
    ("lora-target-not-in-model", "lora.target_modules", ["no_such_proj"], "no_such_proj"),
    ("training-epochs-zero", "training.epochs", 0, ":{line}: training.epochs"),
    ("training-lr-negative", "training.lr", -1e-3, ":{line}: training.lr"),
    ("training-lr-text", "training.lr", "fast", ":{line}: training.lr"),
    ("training-batch-zero", "training.batch_size", 0, ":{line}: training.batch_size"),
    ("training-schedule", "training.schedule", "sawtooth", ":{line}: training.schedule"),
    ("training-warmup", "training.warmup_ratio", 1.0, ":{line}: training.warmup_ratio"),
    ("training-eval-every", "training.eval_every", "week", ":{line}: training.eval_every"),
    ("training-is-list", "training", [1, 2], ":{line}: training"),
    ("decoding-batch-zero", "decoding.batch_size", 0, ":{line}: decoding.batch_size"),
    ("decoding-max-new-negative", "decoding.max_new_tokens", -8, ":{line}: decoding.max_new_tokens"),
    ("decoding-choice-mode", "decoding.choice_mode", "guess", ":{line}: decoding.choice_mode"),
    ("metrics-alpha", "metrics.alpha", 2, ":{line}: metrics.alpha"),
    ("metrics-primary-unknown", "metrics.primary", "token_f1", ":{line}: metrics.primary"),
    ("metrics-primary-judge-for-extractive", "metrics.primary", "judge_correct", ":{line}: metrics.primary"),
    ("judge-budget-zero", "judge", {"model": "x", "max_new_tokens": 0}, ":{line}: judge.max_new_tokens"),
    ("judge-unknown-key", "judge", {"model": "x", "temperature": 0.5}, ":{line}: judge.temperature: unknown key"),
    ("judge-no-model", "judge", {"max_new_tokens": 8}, "judge.model: Field required"),
    ("metrics-short-zero", "metrics.short_thresh", 0, ":{line}: metrics.short_thresh"),
    ("metrics-resamples", "metrics.bootstrap_resamples", 5, ":{line}: metrics.bootstrap_resamples"),
    ("out-is-file", "out", "{qa}", "out"),
    # other tools' names (vocabulary.py) and training.trainer_args
    ("alias-bad-value", "learning_rate", -1e-3, ":{line}: learning_rate: Input should be greater than 0"),
    ("alias-in-section-bad-value", "training.gradient_accumulation_steps", 0, ":{line}: training.gradient_accumulation_steps"),
    ("alias-given-twice", "lora_r", 8, ":{line}: lora_r: given twice, also as lora.r (line "),
    ("alias-given-twice-in-section", "training.num_train_epochs", 2, ":{line}: training.num_train_epochs: given twice"),
    ("alias-scheduler", "lr_scheduler_type", "cosine_with_restarts", ":{line}: lr_scheduler_type: Input should be 'linear'"),
    ("alias-max-length-too-short", "max_length", 20, ":{line}: max_length: 20 tokens for prompt + answer"),
    ("alias-lora-target-not-in-model", "lora_target", "q_proj,no_such_proj", "no_such_proj"),
    ("trainer-args-unknown", "training.trainer_args.optimm", "sgd", ":{line}: training.trainer_args.optimm: not a TrainingArguments field"),
    ("trainer-args-lorabench-key", "training.trainer_args.learning_rate", 0.1, ":{line}: training.trainer_args.learning_rate: lorabench sets"),
    ("trainer-args-bad-value", "training.trainer_args.optim", "adam_of_my_own", ":{line}: training.trainer_args.optim: adam_of_my_own"),
    ("trainer-args-scheduler-kwargs", "training.trainer_args.lr_scheduler_kwargs", {"num_cycles": 2},
     ":{line}: training.trainer_args.lr_scheduler_kwargs: the linear schedule"),
    ("trainer-args-is-list", "training.trainer_args", ["optim"], ":{line}: training.trainer_args"),
    ("retention-task-file-missing", "retention", {"tasks": ["{out}/task.yaml"]}, ":{line}: retention.tasks.0"),
    ("retention-not-a-list", "retention", "arc_easy", ":{line}: retention"),
    ("retention-batch-zero", "retention", {"tasks": [], "batch_size": 0}, ":{line}: retention.batch_size"),
]

# (case id, dotted key under sweep, value, fragment): bad sweep sections, through `study`.
SWEEP_CASES: list[tuple[str, str, Any, str]] = [
    ("sweep-unknown-key", "sweep.strategys", ["single"], ":{line}: sweep.strategys: unknown key"),
    ("sweep-sizes-zero", "sweep.train_sizes", [0, 10], ":{line}: sweep.train_sizes"),
    ("sweep-sizes-empty", "sweep.train_sizes", [], ":{line}: sweep.train_sizes"),
    ("sweep-strategy", "sweep.strategies", ["single", "parallel"], ":{line}: sweep.strategies.1"),
    ("sweep-model-alias", "sweep.models", ["smollm3-tiny"], "smollm3-tiny"),
    ("sweep-is-list", "sweep", ["single"], ":{line}: sweep"),
    ("sweep-sizes-too-many", "sweep.train_sizes", [10_000], "10000"),
]


def _lm_eval_run(folder: Path, docs: dict[str, list[str]], samples: bool = True, cut: bool = False) -> str:
    """A hand-written lm-eval output folder: task -> doc_hashes; `cut` truncates the last samples line."""
    model = folder / "org__model"
    model.mkdir(parents=True)
    (model / f"results_{LM_DATE}.json").write_text(json.dumps({"results": {t: {} for t in docs}, "configs": {t: {} for t in docs}}))
    for task, hashes in docs.items() if samples else ():
        text = "".join(json.dumps({"doc_id": i, "doc_hash": h, "prompt_hash": "p", "metrics": ["acc"], "acc": 1.0}) + "\n"
                       for i, h in enumerate(hashes))
        (model / f"samples_{task}_{LM_DATE}.jsonl").write_text(text[:-12] if cut else text)
    return str(folder)


def _lm_eval_cases(root: Path) -> dict[str, str]:
    return {
        "lm_ok": _lm_eval_run(root / "lm_ok", {"t": ["a", "b"]}),
        "lm_truncated": _lm_eval_run(root / "lm_truncated", {"t": ["a", "b"]}, cut=True),
        "lm_no_samples": _lm_eval_run(root / "lm_no_samples", {"t": ["a", "b"]}, samples=False),
        "lm_other_task": _lm_eval_run(root / "lm_other_task", {"t": ["a", "b"], "u": ["c"]}),
        "lm_other_docs": _lm_eval_run(root / "lm_other_docs", {"t": ["a", "z"]}),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tiny_causal_path: Path, tiny_seq2seq_path: Path) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad_input")
    qa = write_synth(TaskKind.extractive, 24, 0, root / "qa.jsonl", short_passages=True)
    math_file = write_synth(TaskKind.math, 12, 0, root / "math.jsonl")
    preds = root / "preds.jsonl"
    preds.write_text(json.dumps({"gold": "x", "prediction": "x"}) + "\n")
    bad = root / "bad.jsonl"
    bad.write_text(json.dumps({"gold": "x", "prediction": "x"}) + "\n{not json\n")
    (root / "empty.jsonl").write_text("")
    (root / "noshape.jsonl").write_text(json.dumps({"query": "Q?", "reply": "A."}) + "\n")
    good_chat = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
    (root / "chat_bad.jsonl").write_text(json.dumps({"messages": good_chat["messages"][:1]}) + "\n" + json.dumps(good_chat) + "\n")
    (root / "folder").mkdir()
    (root / "full").mkdir()
    (root / "full" / "kept.txt").write_text("not a model")
    (root / "list.yaml").write_text("- model: x\n- task: extractive\n")
    (root / "broken.yaml").write_text("model: x\ntask: [extractive\n")
    prompt_files = {
        "bad_prompt": "prompt:\n  temperature: 0.2\n", "few_shot_prompt": "few_shot: {k: 1}\n",
        "undefined_prompt": "template: '{{ level }}'\n", "target_prompt": "target_template: 'So: {{ answer }}'\n",
    }
    for name, text in prompt_files.items():
        (root / f"{name}.yaml").write_text(text)
    paths = {
        **{name: str(root / f"{name}.yaml") for name in prompt_files},
        "choice_file": str(write_synth(TaskKind.choice, 4, 0, root / "choice.jsonl")),
        "prompted_adapter": str(_lorabench_adapter(
            tiny_causal_path, root / "prompted_adapter", {"answer_prefix": "The answer is"})),
        "qa": str(qa), "math_file": str(math_file), "preds": str(preds), "badjson": str(bad),
        "empty": str(root / "empty.jsonl"), "noshape": str(root / "noshape.jsonl"),
        "chat_bad": str(root / "chat_bad.jsonl"), "folder": str(root / "folder"), "missing": str(root / "missing.jsonl"),
        "list_yaml": str(root / "list.yaml"), "broken_yaml": str(root / "broken.yaml"), "model": str(tiny_causal_path),
        "other_adapter": str(_adapter_for(tiny_seq2seq_path, root / "seq2seq_adapter")),
        "lb_adapter": str(_lorabench_adapter(tiny_causal_path, root / "lb_run" / "adapter")),
        "lb_run": str(root / "lb_run"), "full": str(root / "full"),
        "never": str(root / "never"),  # the out folder of the shared config files: no case may create it
        **_lm_eval_cases(root),
    }
    config = _base_config(paths, paths["never"])
    (root / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "study.yaml").write_text(yaml.safe_dump({**config, "sweep": {"train_sizes": [4, 8]}}, sort_keys=False))
    paths.update(config=str(root / "config.yaml"), study_config=str(root / "study.yaml"))
    return paths


def _adapter_for(base_path: Path, folder: Path) -> Path:
    """A LoRA adapter saved for a different base model than the causal one the cases load."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForSeq2SeqLM

    model = get_peft_model(AutoModelForSeq2SeqLM.from_pretrained(base_path), LoraConfig(r=2, target_modules=["q", "v"]))
    model.save_pretrained(folder)
    return folder


def _lorabench_adapter(base_path: Path, folder: Path, prompt: dict[str, Any] | None = None) -> Path:
    """An adapter with the lorabench.json that `lorabench merge` reads (untrained: no case gets to merging),
    trained, it says, with the prompt settings `prompt`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    targets = ["q_proj", "v_proj"]
    get_peft_model(AutoModelForCausalLM.from_pretrained(base_path), LoraConfig(r=2, target_modules=targets)).save_pretrained(folder)
    base = {"name": str(base_path), "kind": "folder", "path": str(base_path), "dtype": "float32"}
    meta = {"task": "extractive", "prompt": prompt or {}, "lora": {"target_modules": targets}, "base_model": base}
    (folder / "lorabench.json").write_text(json.dumps(meta))
    return folder


def _base_config(paths: dict[str, str], out: str) -> dict[str, Any]:
    return {
        "model": paths["model"],
        "task": "extractive",
        "data": {"source": paths["qa"], "split": {"test": 6, "validation": 2, "seed": 0}},
        "lora": {"r": 2, "alpha": 4},
        "training": {"epochs": 1, "batch_size": 4},
        "decoding": {"batch_size": 4, "max_new_tokens": 4},
        "out": out,
    }


def _fill(text: str, paths: dict[str, str], out: Path) -> str:
    return text.format(out=out, **paths)


def _invoke(argv: list[str]) -> Any:
    return runner.invoke(app, argv, env={"COLUMNS": "200"})


def _check(result: Any, fragment: str, *outs: Path) -> None:
    output = " ".join(result.output.split())  # rich may wrap a long message
    assert result.exit_code == 2, f"exit {result.exit_code}, exception {result.exception!r}:\n{result.output}"
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert fragment in output, f"{fragment!r} not in: {output}"
    for out in outs:
        assert not out.exists(), f"a failed command left {sorted(p.name for p in out.rglob('*'))} in {out}"


@pytest.mark.parametrize(("case", "argv", "fragment"), OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_bad_option(files: dict[str, str], tmp_path: Path, case: str, argv: str, fragment: str) -> None:
    out = tmp_path / "out"
    result = _invoke([_fill(a, files, out) for a in argv.split()])
    _check(result, _fill(fragment, files, out), out, Path(files["never"]))


def _set(config: dict[str, Any], dotted: str, value: Any) -> None:
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _resolve(value: Any, paths: dict[str, str], out: Path) -> Any:
    if isinstance(value, str):
        return _fill(value, paths, out)
    if isinstance(value, dict):
        return {k: _resolve(v, paths, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, paths, out) for v in value]
    return value


def _line_of(text: str, dotted: str) -> int:
    """1-based line of a dotted key (list items by index) in YAML written by yaml.safe_dump."""
    lines, line, indent = text.splitlines(), 0, ""
    for key in dotted.split("."):
        if key.isdigit():  # block sequence items follow their key, one per line
            line += int(key) + 1
            continue
        pattern = re.compile(rf"^{indent}{re.escape(key)}:")
        line = next(i for i in range(line, len(lines)) if pattern.match(lines[i])) + 1
        indent += "  "
    return line


def _expected(fragment: str, text: str) -> str:
    """`:{line}: a.b` becomes `:<line of a.b>: a.b`."""
    match = re.search(r"\{line\}: ([\w.]+)", fragment)
    return fragment if match is None else fragment.replace("{line}", str(_line_of(text, match.group(1))))


def _config_case(files: dict[str, str], tmp_path: Path, dotted: str, value: Any, sweep: dict | None) -> tuple[Path, Path, str]:
    out = tmp_path / "out"
    config = _base_config(files, str(out))
    if sweep is not None:
        config["sweep"] = sweep
    _set(config, dotted, _resolve(value, files, out))
    path = tmp_path / "case.yaml"
    text = yaml.safe_dump(config, sort_keys=False)
    path.write_text(text)
    return path, out, text


@pytest.mark.parametrize("command", ["run", "train", "study"])
@pytest.mark.parametrize(("case", "dotted", "value", "fragment"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config_value(files, tmp_path, command: str, case: str, dotted: str, value: Any, fragment: str) -> None:
    sweep = {"seeds": [0]} if command == "study" else None
    path, out, text = _config_case(files, tmp_path, dotted, value, sweep)
    result = _invoke([command, str(path)])
    _check(result, _fill(_expected(fragment, text), files, out), out)


@pytest.mark.parametrize(("case", "dotted", "value", "fragment"), SWEEP_CASES, ids=[c[0] for c in SWEEP_CASES])
def test_bad_sweep(files, tmp_path, case: str, dotted: str, value: Any, fragment: str) -> None:
    path, out, text = _config_case(files, tmp_path, dotted, value, {"seeds": [0]})
    result = _invoke(["study", str(path)])
    _check(result, _fill(_expected(fragment, text), files, out), out)


def test_corpus_covers_every_command() -> None:
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    covered = {argv.split()[0] for _, argv, _ in OPTION_CASES}
    assert commands <= covered, f"no bad-input case for {sorted(commands - covered)}"


def test_an_internal_error_keeps_its_traceback(monkeypatch, files) -> None:
    """A bug is not a user mistake: it must not be dressed up as one."""
    import lorabench.evaluation.scorefile

    def broken(*args: Any, **kwargs: Any) -> None:
        raise KeyError("bug")

    monkeypatch.setattr(lorabench.evaluation.scorefile, "score_file", broken)
    result = _invoke(["score", files["preds"], "--task", "extractive"])
    assert result.exit_code == 1 and isinstance(result.exception, KeyError)
