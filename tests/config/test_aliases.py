"""Other tools' names for lorabench's keys: read as lorabench's, saved as lorabench's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lorabench.config.run import load_config
from lorabench.core.errors import LorabenchError
from lorabench.studies.grid import load_study
from lorabench.config.aliases import ALIASES

BASE = {"model": "org/base", "task": "extractive", "data": {"source": "qa.jsonl"}, "out": "runs/x"}

# (alias, lorabench's key, a value): each alias once.
CASES: list[tuple[str, str, Any]] = [
    ("model_name_or_path", "model.name", "org/other"),
    ("learning_rate", "training.lr", 1e-4),
    ("num_train_epochs", "training.epochs", 3),
    ("per_device_train_batch_size", "training.batch_size", 2),
    ("gradient_accumulation_steps", "training.grad_accum", 4),
    ("warmup_ratio", "training.warmup_ratio", 0.2),
    ("lr_scheduler_type", "training.schedule", "cosine"),
    ("max_steps", "training.max_steps", 7),
    ("lora_r", "lora.r", 4),
    ("lora_rank", "lora.r", 4),
    ("lora_alpha", "lora.alpha", 8),
    ("lora_dropout", "lora.dropout", 0.1),
    ("lora_target", "lora.target_modules", ["q_proj", "v_proj"]),
    ("target_modules", "lora.target_modules", ["q_proj", "v_proj"]),
    ("choice_scoring", "decoding.choice_normalization", "sum"),
]


def _write(tmp_path: Path, config: dict[str, Any], name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    section, field = dotted.split(".")
    return {section: {field: value}}


def _base_without(key: str) -> dict[str, Any]:
    """BASE less the key an alias is about to give (its model, for model_name_or_path)."""
    return {k: v for k, v in BASE.items() if k != key.split(".")[0]}


def _saved(tmp_path: Path, config: dict[str, Any], overrides: list[str] | None = None) -> str:
    return load_config(_write(tmp_path, config), overrides).to_yaml()


def test_every_alias_has_a_case() -> None:
    assert sorted(alias for alias, _, _ in CASES) == sorted(a for aliases in ALIASES.values() for a in aliases if a != "max_length")


@pytest.mark.parametrize(("alias", "key", "value"), CASES, ids=[c[0] for c in CASES])
def test_an_alias_at_the_top_level_saves_lorabench_s_key(tmp_path, alias: str, key: str, value: Any) -> None:
    assert _saved(tmp_path, {**_base_without(key), alias: value}) == _saved(tmp_path, {**BASE, **_nested(key, value)})


@pytest.mark.parametrize(("alias", "key", "value"), CASES, ids=[c[0] for c in CASES])
def test_an_alias_inside_its_section_saves_lorabench_s_key(tmp_path, alias: str, key: str, value: Any) -> None:
    section = key.split(".")[0]
    aliased = {**_base_without(key), **_nested(f"{section}.{alias}", value)}
    assert _saved(tmp_path, aliased) == _saved(tmp_path, {**BASE, **_nested(key, value)})


def test_a_flat_hugging_face_config_is_the_run_lorabench_s_names_describe(tmp_path) -> None:
    flat = {
        "model_name_or_path": "org/base", "task": "extractive", "data": {"source": "qa.jsonl"}, "out": "runs/x",
        "learning_rate": 5e-5, "num_train_epochs": 2, "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 2, "lr_scheduler_type": "cosine", "warmup_ratio": 0.1, "max_steps": -1,
        "lora_rank": 8, "lora_alpha": 16, "lora_dropout": 0.0, "lora_target": "all",
    }
    own = {
        **BASE,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": "all-linear"},
        "training": {"lr": 5e-5, "epochs": 2, "batch_size": 4, "grad_accum": 2, "schedule": "cosine", "warmup_ratio": 0.1},
    }
    assert _saved(tmp_path, flat) == _saved(tmp_path, own)


@pytest.mark.parametrize(
    ("written", "read"),
    [("all", "all-linear"), ("q_proj,v_proj", ["q_proj", "v_proj"]), (" q_proj , v_proj ", ["q_proj", "v_proj"]),
     ("q_proj", ["q_proj"]), (["k_proj"], ["k_proj"])],
)
def test_lora_target_takes_llama_factory_s_forms(tmp_path, written: Any, read: Any) -> None:
    assert load_config(_write(tmp_path, {**BASE, "lora_target": written})).lora.target_modules == read
    assert load_config(_write(tmp_path, {**BASE, "lora": {"lora_target": written}})).lora.target_modules == read


def test_lorabench_s_own_target_modules_keeps_its_strict_form(tmp_path) -> None:
    with pytest.raises(LorabenchError, match=r"run\.yaml:\d+: lora\.target_modules"):
        load_config(_write(tmp_path, {**BASE, "lora": {"target_modules": "q_proj,v_proj"}}))


def test_transformers_max_steps_minus_one_means_no_limit(tmp_path) -> None:
    assert load_config(_write(tmp_path, {**BASE, "max_steps": -1})).training.max_steps is None
    with pytest.raises(LorabenchError, match=r"training\.max_steps: Input should be greater than 0"):
        load_config(_write(tmp_path, {**BASE, "training": {"max_steps": -1}}))


def test_max_length_bounds_prompt_plus_answer(tmp_path) -> None:
    # extractive answers get 32 new tokens by default; with 512 for both, 480 are left for the prompt
    config = load_config(_write(tmp_path, {**BASE, "max_length": 512}))
    assert config.prompt.max_prompt_tokens == 480
    assert _saved(tmp_path, {**BASE, "max_length": 512}) == _saved(tmp_path, {**BASE, "prompt": {"max_prompt_tokens": 480}})
    with_decoding = {**BASE, "max_length": 512, "decoding": {"max_new_tokens": 100}}
    assert load_config(_write(tmp_path, with_decoding)).prompt.max_prompt_tokens == 412
    assert load_config(_write(tmp_path, {**BASE, "prompt": {"max_length": 512}})).prompt.max_prompt_tokens == 480
    assert "max_length" in type(config.prompt).model_fields["max_prompt_tokens"].description


def test_max_length_that_leaves_no_prompt_is_refused_at_its_line(tmp_path) -> None:
    with pytest.raises(LorabenchError, match=r"run\.yaml:6: max_length: 40 tokens for prompt \+ answer leave 8"):
        load_config(_write(tmp_path, {**BASE, "max_length": 40}))


def test_an_alias_s_bad_value_names_the_key_as_written_and_its_line(tmp_path) -> None:
    with pytest.raises(LorabenchError, match=r"run\.yaml:6: learning_rate: Input should be greater than 0"):
        load_config(_write(tmp_path, {**BASE, "learning_rate": -1}))
    with pytest.raises(LorabenchError, match=r"run\.yaml:7: training\.num_train_epochs: Input should be greater than 0"):
        load_config(_write(tmp_path, {**BASE, "training": {"num_train_epochs": 0}}))


def test_an_unsupported_scheduler_lists_the_supported_ones(tmp_path) -> None:
    with pytest.raises(LorabenchError, match=r"run\.yaml:6: lr_scheduler_type: .*'linear', 'cosine', 'constant' or 'constant_with_warmup'"):
        load_config(_write(tmp_path, {**BASE, "lr_scheduler_type": "cosine_with_restarts"}))


TWICE = """\
model: org/base
task: extractive
data: {source: qa.jsonl}
lora_r: 8
learning_rate: 0.001
lora:
  alpha: 16
training:
  epochs: 1
  lr: 0.0002
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TWICE, r"run\.yaml:5: learning_rate: given twice, also as training\.lr \(line 10\)"),
        (TWICE.replace("learning_rate: 0.001\n", "").replace("  alpha: 16", "  lora_rank: 4"),
         r"run\.yaml:6: lora\.lora_rank: given twice, also as lora_r \(line 4\)"),
        (TWICE.replace("learning_rate: 0.001\n", "").replace("lora_r: 8", "lora_dropout: 0.1").replace("epochs: 1", "learning_rate: 1"),
         r"run\.yaml:8: training\.learning_rate: given twice, also as training\.lr \(line 9\)"),
        (TWICE.replace("learning_rate: 0.001\n", "model_name_or_path: org/other\n").replace("lora_r: 8", "lora_dropout: 0.1"),
         r"run\.yaml:5: model_name_or_path: given twice, also as model\.name \(line 1\)"),
    ],
    ids=["top-level-and-section", "two-aliases", "both-in-section", "model-shorthand"],
)
def test_a_setting_given_twice_names_both_keys_and_lines(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(LorabenchError, match=message):
        load_config(path)


def test_set_takes_aliases_and_replaces_the_file_s_value_whatever_its_name(tmp_path) -> None:
    own = {**BASE, "training": {"lr": 2e-4}, "lora": {"r": 16}}
    assert _saved(tmp_path, own, ["learning_rate=5e-4", "lora.lora_r=4"]) == _saved(
        tmp_path, {**BASE, "training": {"lr": 5e-4}, "lora": {"r": 4}}
    )
    aliased = {**BASE, "learning_rate": 2e-4, "model_name_or_path": "org/other"}
    config = load_config(_write(tmp_path, aliased), ["training.lr=1e-3", "model.name=org/third"])
    assert config.training.lr == 1e-3 and config.model.name == "org/third"
    config = load_config(_write(tmp_path, BASE), ["model_name_or_path=org/fourth"])  # over `model: NAME`
    assert config.model.name == "org/fourth"


def test_study_configs_take_aliases(tmp_path) -> None:
    study = load_study(_write(tmp_path, {**BASE, "learning_rate": 1e-4, "lora_r": 4, "sweep": {"seeds": [0, 1]}}))
    assert {(p.config.training.lr, p.config.lora.r) for p in study.points} == {(1e-4, 4)}
    twice = {**BASE, "learning_rate": 1e-4, "training": {"lr": 1e-3}, "sweep": {"seeds": [0]}}
    with pytest.raises(LorabenchError, match=r"run\.yaml:6: learning_rate: given twice, also as training\.lr \(line 8\)"):
        load_study(_write(tmp_path, twice))


def test_aliases_are_read_without_importing_torch(tmp_path) -> None:
    good = _write(tmp_path, {**BASE, "learning_rate": 1e-4, "lora_target": "q_proj,v_proj", "max_length": 256}, "good.yaml")
    twice = _write(tmp_path, {**BASE, "lora_r": 4, "lora": {"r": 8}}, "twice.yaml")
    code = (
        "import sys\n"
        "from lorabench.config.run import load_config\n"
        "from lorabench.core.errors import LorabenchError\n"
        f"assert load_config(__import__('pathlib').Path({str(good)!r})).training.lr == 1e-4\n"
        "try:\n"
        f"    load_config(__import__('pathlib').Path({str(twice)!r}))\n"
        "except LorabenchError as error:\n"
        "    assert 'given twice' in str(error), error\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
