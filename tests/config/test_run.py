import pytest

from lorabench.cli.common import as_flags
from lorabench.config.run import load_config
from lorabench.core.errors import LorabenchError

GOOD = """\
model: smollm2-135m-instruct
task: extractive
data:
  source: data/qa.jsonl
  split: {test: 0.3, validation: 0.1, seed: 1}
training:
  lr: 0.001
  epochs: 2
lora:
  r: 8
out: runs/demo
"""


def _write(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_good_config_with_shorthands(tmp_path):
    config = load_config(_write(tmp_path, GOOD))
    assert config.model.name == "smollm2-135m-instruct"
    assert str(config.data.source.path) == "data/qa.jsonl"
    assert config.data.source.task.value == "extractive"  # filled from the top-level task
    assert config.training.lr == 0.001 and config.lora.r == 8
    assert config.prompt.chat_template == "auto"  # defaults fill the rest


def test_overrides(tmp_path):
    config = load_config(_write(tmp_path, GOOD), ["training.lr=5e-4", "model.dtype=float32", "data.test_size=20"])
    assert config.training.lr == 5e-4
    assert config.model.name == "smollm2-135m-instruct" and config.model.dtype == "float32"
    assert config.data.test_size == 20


def test_unknown_key_names_key_and_line(tmp_path):
    text = GOOD.replace("  lr: 0.001", "  lr: 0.001\n  lr_decay: 0.1")
    with pytest.raises(LorabenchError, match=r"run\.yaml:8: training\.lr_decay: unknown key"):
        load_config(_write(tmp_path, text))


def test_wrong_type_names_key_and_line(tmp_path):
    text = GOOD.replace("  r: 8", "  r: eight")
    with pytest.raises(LorabenchError, match=r"run\.yaml:10: lora\.r: .*integer"):
        load_config(_write(tmp_path, text))


def test_data_layout_must_be_one_of_two(tmp_path):
    text = GOOD.replace("  source: data/qa.jsonl", "  source: data/qa.jsonl\n  test: data/test.jsonl")
    with pytest.raises(LorabenchError, match="either 'source' or 'train' \\+ 'test'"):
        load_config(_write(tmp_path, text))


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(LorabenchError, match="not valid YAML"):
        load_config(_write(tmp_path, "model: [unclosed\n"))
    with pytest.raises(LorabenchError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(LorabenchError, match="key.subkey=value") as raised:
        load_config(_write(tmp_path, GOOD), ["nonsense"])
    # the overrides are named as the library takes them; a command words them as its --set
    assert str(raised.value) == "overrides nonsense: must look like key.subkey=value"
    assert as_flags(raised.value, {"overrides": "--set"}) == "--set nonsense: must look like key.subkey=value"


def test_a_bad_config_is_refused_without_importing_torch(tmp_path):
    """Validating a config must not wait for torch: the schemas live in torch-free modules."""
    import subprocess
    import sys

    config = tmp_path / "run.yaml"
    config.write_text("model: x\ntask: extractive\ndata: {source: qa.jsonl}\ntraining: {lr: -1}\n")
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lorabench.cli import app\n"
        f"for command in ('run', 'train', 'study'):\n"
        f"    result = CliRunner().invoke(app, [command, {str(config)!r}])\n"
        "    assert result.exit_code == 2, result.output\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
